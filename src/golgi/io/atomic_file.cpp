#include "golgi/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "golgi/core/error.h"

namespace golgi::io {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

// The folder part of `path` ("." for a bare name) and the file name part.
std::pair<std::string, std::string> split_path(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  if (slash == 0) return {"/", path.substr(1)};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// Distinguishes temporaries of several AtomicFiles open at once in one process.
std::atomic<uint64_t> temp_counter{0};

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  GOLGI_CHECK(!path_.empty(), "cannot write a file with an empty path");
  auto [dir, name] = split_path(path_);
  GOLGI_CHECK(!name.empty(), "cannot write '", path_, "': the path names a folder, not a file");
  temp_path_ = (dir == "/" ? "" : dir) + "/." + name + ".tmp." + std::to_string(::getpid()) + "." +
               std::to_string(temp_counter.fetch_add(1));
  // O_EXCL: never clobber someone else's file that happens to have the temporary's name.
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    const int error = errno;
    struct stat info {};
    const bool dir_missing = ::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode);
    GOLGI_FAIL("cannot write '", path_, "': cannot create temporary file '", temp_path_,
               "': ", errno_text(error),
               dir_missing ? " (the folder '" + dir + "' does not exist; create it first)" : "");
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  // Without commit() the destination must stay as it was, so the partial temporary goes away.
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t size) {
  GOLGI_CHECK(fd_ >= 0 && !committed_, "cannot write to '", path_, "' after commit()");
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, bytes, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      GOLGI_FAIL("cannot write '", path_, "': writing temporary file '", temp_path_,
                 "' failed after ", written_, " bytes: ", errno_text(errno));
    }
    bytes += n;
    size -= static_cast<size_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
}

void AtomicFile::commit() {
  GOLGI_CHECK(fd_ >= 0 && !committed_, "cannot commit '", path_, "' twice");
  // The data must be on disk before the rename makes it visible, or a crash could leave the
  // destination pointing at an empty or partial file.
  if (::fsync(fd_) != 0)
    GOLGI_FAIL("cannot write '", path_, "': fsync of '", temp_path_, "' failed: ", errno_text(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0)
    GOLGI_FAIL("cannot write '", path_, "': closing '", temp_path_, "' failed: ", errno_text(errno));
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0)
    GOLGI_FAIL("cannot write '", path_, "': renaming '", temp_path_, "' over it failed: ",
               errno_text(errno));
  committed_ = true;
  // The rename itself lives in the folder's entries; fsync the folder so it survives a crash.
  const std::string dir = split_path(path_).first;
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    GOLGI_FAIL("wrote '", path_, "' but cannot open its folder '", dir, "' to fsync it: ",
               errno_text(errno));
  const int sync_result = ::fsync(dir_fd);
  const int sync_error = errno;
  ::close(dir_fd);
  // Some file systems do not support fsync on folders (EINVAL); the rename is then as durable as
  // that file system makes it, which is not an error of ours.
  if (sync_result != 0 && sync_error != EINVAL)
    GOLGI_FAIL("wrote '", path_, "' but fsync of its folder '", dir, "' failed: ", errno_text(sync_error));
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) GOLGI_FAIL("cannot read '", path, "': ", errno_text(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    GOLGI_FAIL("cannot read '", path, "': ", errno_text(error));
  }
  if (S_ISDIR(info.st_mode)) {
    ::close(fd);
    GOLGI_FAIL("cannot read '", path, "': it is a folder, not a file");
  }
  std::string content;
  if (S_ISREG(info.st_mode) && info.st_size > 0) content.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      GOLGI_FAIL("cannot read '", path, "': ", errno_text(error), " after ", content.size(), " bytes");
    }
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

bool file_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

void make_dirs(const std::string& path) {
  GOLGI_CHECK(!path.empty(), "cannot create a folder with an empty path");
  // Create each prefix in turn; an existing folder is fine, an existing file in the way is not.
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (prefix.empty() || prefix == "/") continue;
    if (::mkdir(prefix.c_str(), 0777) == 0) continue;
    const int error = errno;
    struct stat info {};
    if (error == EEXIST && ::stat(prefix.c_str(), &info) == 0) {
      GOLGI_CHECK(S_ISDIR(info.st_mode), "cannot create folder '", path, "': '", prefix,
                  "' exists and is not a folder");
      continue;
    }
    GOLGI_FAIL("cannot create folder '", path, "': mkdir '", prefix, "' failed: ", errno_text(error));
  }
}

}  // namespace golgi::io
