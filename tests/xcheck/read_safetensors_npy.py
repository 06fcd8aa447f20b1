#!/usr/bin/python3
"""Cross-checks golgi's safetensors and NPY files against numpy, in both directions.

usage: read_safetensors_npy.py HELPER SCRATCH_DIR

HELPER is golgi_xcheck_write_samples (tests/xcheck/tools/write_samples.cpp). numpy is the
independent reference: safetensors headers are parsed here with struct + json (the safetensors
Python package is not used), NPY files with numpy.load / numpy.save. Values are compared exactly,
bit for bit for floats (NaN equals NaN, -0.0 differs from 0.0). Exits 1 listing every mismatch.
"""
import io
import json
import math
import os
import struct
import subprocess
import sys

import numpy as np

# safetensors dtype -> numpy dtype of the stored bytes. BF16 has no numpy dtype: it is read as
# uint16 and widened to float32 by hand.
NUMPY_OF = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
            "I16": "<i2", "I8": "|i1", "U8": "|u1", "BOOL": "|b1"}

failures = []


def fail(message):
    failures.append(message)
    print("MISMATCH: " + message, file=sys.stderr)


def from_json(value):
    """A value from golgi's JSON: non-finite floats are spelled as strings there."""
    if isinstance(value, str):
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[value]
    return value


def same_value(a, b):
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return type(a) is type(b) and a == b


def compare(what, array, shape, values):
    if list(array.shape) != list(shape):
        fail(f"{what}: shape {list(array.shape)} != {list(shape)}")
        return
    got = array.reshape(-1).tolist()
    want = [from_json(v) for v in values]
    if len(got) != len(want):
        fail(f"{what}: {len(got)} values != {len(want)}")
        return
    for i, (g, w) in enumerate(zip(got, want)):
        if not same_value(g, w):
            fail(f"{what}: element {i}: numpy has {g!r}, golgi {w!r}")


def bf16_to_f32(raw_u16):
    return (raw_u16.astype(np.uint32) << 16).view(np.float32)


def read_safetensors(path):
    """Independent safetensors reader: {name: ndarray}, metadata, and layout checks."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header_text = blob[8:8 + n].decode("utf-8")
    header = json.loads(header_text)
    buffer = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    arrays, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        spans.append((begin, end, name))
        raw = np.frombuffer(buffer[begin:end], dtype=NUMPY_OF[info["dtype"]])
        if info["dtype"] == "BF16":
            raw = bf16_to_f32(raw)
        arrays[name] = raw.reshape(info["shape"])
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            fail(f"{path}: tensor {name} starts at {begin}, expected {position} (gap or overlap)")
        position = end
    if position != len(buffer):
        fail(f"{path}: tensors cover {position} of {len(buffer)} buffer bytes")
    return arrays, metadata, n, header_text


def check_golgi_writes(helper, scratch):
    out = os.path.join(scratch, "golgi")
    subprocess.run([helper, "write", out], check=True)
    with open(os.path.join(out, "expected.json")) as f:
        expected = json.load(f)

    arrays, metadata, n, header_text = read_safetensors(os.path.join(out, "samples.safetensors"))
    if n % 8 != 0:
        fail(f"safetensors header length {n} is not a multiple of 8")
    if header_text.rstrip(" ") != header_text.rstrip():
        fail("safetensors header padding is not spaces")
    if metadata != {"writer": "golgi"}:
        fail(f"safetensors metadata {metadata!r}")
    if sorted(arrays) != sorted(expected):
        fail(f"safetensors names {sorted(arrays)} != {sorted(expected)}")
    for name, info in expected.items():
        if name in arrays:
            compare(f"samples.safetensors:{name}", arrays[name], info["shape"], info["values"])

    for name, info in expected.items():
        if name == "BF16":
            continue
        path = os.path.join(out, name + ".npy")
        array = np.load(path)
        if array.dtype.str != NUMPY_OF[name]:
            fail(f"{name}.npy: numpy dtype {array.dtype.str} != {NUMPY_OF[name]}")
        compare(f"{name}.npy", array, info["shape"], info["values"])
        with open(path, "rb") as f:
            major = f.read(8)[6]
            (length,) = struct.unpack("<H", f.read(2))
            header = f.read(length)
        if major != 1 or (10 + length) % 64 != 0 or not header.endswith(b"\n"):
            fail(f"{name}.npy: header version {major}, length {length} is not numpy's aligned layout")
    print(f"golgi -> numpy: {len(expected)} safetensors tensors, {len(expected) - 1} npy files checked")


def dump(helper, paths):
    """golgi's reading of each file in `paths`, from one helper process (each start loads LibTorch)."""
    result = subprocess.run([helper, "dump"] + paths, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"golgi could not read {len(paths)} files: {result.stderr.strip()}")
        return {}
    return json.loads(result.stdout)


def numpy_arrays():
    """Arrays numpy writes, covering every dtype, orders, scalars and empty shapes."""
    rng = np.random.default_rng(20240607)
    out = {}
    for descr in ["<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1"]:
        dtype = np.dtype(descr)
        if dtype.kind == "f":
            base = rng.standard_normal(24) * 1000
            base[:3] = [np.nan, np.inf, -np.inf]
            values = base.astype(dtype)
        elif dtype.kind == "b":
            values = rng.integers(0, 2, 24).astype(bool)
        else:
            info = np.iinfo(dtype)
            values = rng.integers(info.min, info.max, 24, dtype=dtype, endpoint=True)
            values[:2] = [info.min, info.max]
        key = dtype.str.replace("<", "").replace("|", "")
        out[f"{key}_c"] = values.reshape(2, 3, 4)
        out[f"{key}_fortran"] = np.asfortranarray(values.reshape(2, 3, 4))
        out[f"{key}_scalar"] = values[5].reshape(())
        out[f"{key}_empty"] = values[:0].reshape(0, 3)
    return out


def check_numpy_writes(helper, scratch):
    folder = os.path.join(scratch, "numpy")
    os.makedirs(folder, exist_ok=True)
    arrays = numpy_arrays()
    written = []
    for name, array in arrays.items():
        versions = [None, (2, 0), (3, 0)] if name.endswith("_c") else [None]
        for version in versions:
            path = os.path.join(folder, f"{name}_v{version[0] if version else 1}.npy")
            if version is None:
                np.save(path, array)
                if name.endswith("_fortran") and not np.load(path).flags.f_contiguous:
                    fail(f"{path}: numpy did not write a Fortran-order file")
            else:
                with open(path, "wb") as f:
                    np.lib.format.write_array(f, array, version=version)
            written.append((path, array))
    got = dump(helper, [path for path, _ in written])
    count = 0
    for path, array in written:
        if path not in got:
            fail(f"{path}: golgi returned nothing")
            continue
        info = got[path]["array"]
        compare(path, array, info["shape"], info["values"])
        if NUMPY_OF[info["dtype"]] != array.dtype.str:
            fail(f"{path}: golgi dtype {info['dtype']} for numpy {array.dtype.str}")
        count += 1

    # Big-endian input must be refused with a clear message, not misread.
    path = os.path.join(folder, "big_endian.npy")
    np.save(path, np.arange(3, dtype=">f4"))
    result = subprocess.run([helper, "dump", path], capture_output=True, text=True)
    if result.returncode != 2 or "big-endian" not in result.stderr:
        fail(f"big-endian NPY: expected exit 2 naming big-endian, got {result.returncode}: {result.stderr.strip()}")

    # A safetensors file written here with struct + json, unpadded as some writers do.
    tensors = {"w.f32": arrays["f4_c"], "b.i64": arrays["i8_c"][0], "mask": arrays["b1_c"],
               "half": arrays["f2_c"], "bytes": arrays["u1_c"], "empty": arrays["f8_empty"]}
    bf16_bits = (arrays["f4_c"].view(np.uint32) >> 16).astype("<u2")
    header, chunks, offset = {"__metadata__": {"source": "numpy"}}, [], 0
    for name, array in list(tensors.items()) + [("bf", bf16_bits)]:
        data = np.ascontiguousarray(array).tobytes()
        dtype = "BF16" if name == "bf" else {v: k for k, v in NUMPY_OF.items() if k != "BF16"}[array.dtype.str]
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    path = os.path.join(folder, "numpy.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    got = dump(helper, [path]).get(path)
    if got is not None:
        if got.get("__metadata__") != {"source": "numpy"}:
            fail(f"{path}: metadata {got.get('__metadata__')!r}")
        for name, array in tensors.items():
            compare(f"{path}:{name}", array, got[name]["shape"], got[name]["values"])
        compare(f"{path}:bf", bf16_to_f32(bf16_bits), got["bf"]["shape"], got["bf"]["values"])
        count += len(tensors) + 1
    print(f"numpy -> golgi: {count} arrays checked")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    helper, scratch = sys.argv[1], sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    check_golgi_writes(helper, scratch)
    check_numpy_writes(helper, scratch)
    if failures:
        print(f"FAIL: {len(failures)} mismatches between golgi and numpy", file=sys.stderr)
        return 1
    print("PASS: golgi and numpy agree on every safetensors and NPY value")
    return 0


if __name__ == "__main__":
    sys.exit(main())
