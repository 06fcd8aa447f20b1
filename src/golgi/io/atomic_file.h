// Atomic file writes: nothing a user made is ever left half-written.
//
// AtomicFile writes to a temporary file in the destination's folder, and commit() fsyncs it,
// renames it over the destination and fsyncs the folder. If the writer is destroyed without
// commit() (an exception, a crash), the temporary is removed and the destination is untouched.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace golgi::io {

class AtomicFile {
 public:
  // Creates the temporary `<dir>/.<name>.tmp.<pid>.<n>`; throws golgi::Error naming the path when
  // the folder does not exist or is not writable.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  uint64_t bytes_written() const { return written_; }
  // fsync, rename over the destination, fsync the folder. Throws golgi::Error on failure.
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// Convenience: the whole content at once.
void write_file_atomic(const std::string& path, std::string_view bytes);
// Reads a whole file; throws golgi::Error naming the path when it is missing or unreadable.
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
// mkdir -p; throws golgi::Error naming the path on failure.
void make_dirs(const std::string& path);

}  // namespace golgi::io
