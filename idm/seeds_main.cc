// idm-seeds DIR: writes the fuzz seed corpus (a valid request and response per opcode, from the table).
#include <cstdio>
#include <fstream>
#include <string>

#include "idm/testing/sample_messages.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: idm-seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  std::string mk = "mkdir -p '" + dir + "'";
  if (std::system(mk.c_str()) != 0) return 1;
  for (const auto& s : xg::idm::sample_messages()) {
    auto put = [&](const char* kind, const std::vector<std::byte>& b) {
      if (b.empty()) return;
      std::ofstream(dir + "/" + s.info->name + "-" + kind, std::ios::binary)
          .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    };
    put("request", s.request);
    put("response", s.response);
  }
  return 0;
}
