// libFuzzer target: the module protocol's readers on both sides: requests
// (as a module reads them), responses of every operation and list streams
// (as the agent reads them). A decoded request re-encodes to bytes that
// decode to the same request.
#include <cstdint>
#include <cstdlib>

#include "capabilities/protocol/protocol.h"

using namespace deputy::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto req = Request::Decode(text);
  if (req.ok()) {
    auto again = Request::Decode(req->Encode());
    if (!again.ok() || again->Encode() != req->Encode()) std::abort();
  }
  for (Op op : {Op::kDescribe, Op::kRead, Op::kApply, Op::kVerify}) {
    auto r = Response::Decode(text, op, "r1");
    if (r.ok() && r->ok() != r->result.has_value()) std::abort();
  }
  std::size_t records = 0;
  auto list = DecodeListStream(text, "r1", [&](const Record&) {
    ++records;
    return deputy::Status::Ok();
  });
  (void)list;
  return 0;
}
