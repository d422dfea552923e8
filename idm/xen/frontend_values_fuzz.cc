// libFuzzer target: the backend's parser of everything a (hostile) frontend writes to xenstore.
// Input: the nine values separated by '\n', in FrontendValues order; a missing line is an absent node.
// Also feeds each line to parse_state and the grant-ref list parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "idm/xen/xen_handshake.h"

using namespace xg::idm::xen;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  FrontendValues v;
  std::optional<std::string>* fields[] = {&v.protocol_version, &v.request_ring_bytes, &v.response_ring_bytes,
                                          &v.max_payload,      &v.data_pages,         &v.num_pages,
                                          &v.ring_refs,        &v.event_channel,      &v.alive_ref};
  for (auto* f : fields) {
    if (in.empty()) break;
    const size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    if (line != "-") f->emplace(line);  // "-" = node absent
    (void)parse_state(line);
    (void)parse_ref_list(line, kMaxDirPages);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  }
  const ParsedFrontend p = parse_frontend(v);
  if (p.reject == Reject::kOk) {
    // What the backend relies on after a successful parse.
    if (!p.info.geometry.valid() || p.info.num_pages != p.info.geometry.total_pages() ||
        p.info.num_pages > kMaxPages || p.info.dir_refs.size() != dir_pages_for(p.info.num_pages) ||
        p.info.event_channel == 0)
      __builtin_trap();
  }
  return 0;
}
