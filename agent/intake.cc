#include "agent/intake.h"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "base/files.h"

namespace deputy::agent {

namespace fs = std::filesystem;

Result<std::vector<std::string>> ListInbox(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Io("create " + dir + ": " + ec.message());
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0 ||
        name[0] == '.') {
      continue;
    }
    out.push_back(e.path().string());
  }
  if (ec) return Status::Io("read " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::string> FileAway(const std::string& path, const std::string& dir,
                             const std::string& subdir,
                             const std::string& reason) {
  fs::path to_dir = fs::path(dir) / subdir;
  std::error_code ec;
  fs::create_directories(to_dir, ec);
  if (ec) return Status::Io("create " + to_dir.string() + ": " + ec.message());
  fs::path to = to_dir / fs::path(path).filename();
  if (!reason.empty()) {
    RETURN_IF_ERROR(WriteFileAtomic(to.string() + ".reason", reason + "\n",
                                    0644, Overwrite::kReplace));
  }
  if (std::rename(path.c_str(), to.c_str()) != 0) {
    return Status::Errno("move " + path + " to " + to.string(), errno);
  }
  return to.string();
}

Status DropInto(const std::string& dir, const std::string& name,
                std::string_view bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Io("create " + dir + ": " + ec.message());
  return WriteFileAtomic((fs::path(dir) / name).string(), bytes, 0644,
                         Overwrite::kRefuse);
}

}  // namespace deputy::agent
