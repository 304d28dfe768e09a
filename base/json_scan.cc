#include "base/json_scan.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// One pass over the bytes with no DOM and no recursion: a hand-written
// state machine over an explicit stack that lives inline up to 64 open
// containers and 48 open keys, so a log line never touches the heap.
// String content is skipped 16 bytes at a time (SSE2, or 8 with plain
// 64-bit arithmetic elsewhere) until a quote, backslash, control or
// non-ASCII byte. Every acceptance rule mirrors ParseStrict, which reads
// through nlohmann: json_scan_test and fuzz_json_scan hold the two to the
// same verdict on every input.

namespace deputy::json {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
// Objects up to this many keys are checked for duplicates as each key
// arrives, against every earlier key; larger ones are sorted once when they
// close, so a 1 MiB object of tiny keys costs O(n log n), not O(n^2).
constexpr std::size_t kLinearKeyLimit = 16;
// Error messages quote keys and paths; these bound how much of a (possibly
// megabyte-long) key or path an error message repeats, keeping every
// message under 400 bytes.
constexpr std::size_t kMaxQuotedBytes = 32;
constexpr std::size_t kMaxPathChars = 160;
// The largest integer literal has 16 digits (2^53 - 1 = 9007199254740991).
constexpr int kMaxSafeDigits = 16;
// A finite double is below 1.8e308: a number whose leading digit is at
// 10^307 or lower always fits, one at 10^309 or higher never does.
constexpr std::int64_t kAlwaysFiniteExponent = 307;
constexpr std::int64_t kNeverFiniteExponent = 309;
// Exponent digits beyond this bound cannot change the verdict; clamping
// keeps "1e99999999999999999999" from overflowing the accumulator.
constexpr std::int64_t kExponentClamp = std::int64_t{1} << 40;

struct CharTables {
  // 1 for the bytes that end a run of plain string content: '"', '\\',
  // control characters (< 0x20) and every non-ASCII byte (>= 0x80).
  std::array<std::uint8_t, 256> string_special{};
  // 1 for JSON whitespace: space, tab, line feed, carriage return.
  std::array<std::uint8_t, 256> whitespace{};
  // The value of a hex digit, or 0xFF.
  std::array<std::uint8_t, 256> hex{};
};

constexpr CharTables MakeTables() {
  CharTables t;
  for (int c = 0; c < 256; ++c) {
    t.string_special[c] = (c < 0x20 || c >= 0x80 || c == '"' || c == '\\');
    t.whitespace[c] = (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    t.hex[c] = 0xFF;
  }
  for (int c = '0'; c <= '9'; ++c)
    t.hex[c] = static_cast<std::uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) {
    t.hex[c] = static_cast<std::uint8_t>(c - 'a' + 10);
    t.hex[c - 'a' + 'A'] = static_cast<std::uint8_t>(c - 'a' + 10);
  }
  return t;
}

constexpr CharTables kTables = MakeTables();

inline std::uint8_t Byte(const char* p) {
  return static_cast<std::uint8_t>(*p);
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

inline const char* SkipWhitespace(const char* p, const char* end) {
  while (p < end && kTables.whitespace[Byte(p)]) ++p;
  return p;
}

#if defined(__SSE2__)
// Bit i is set when p[i] is '"', '\\', below 0x20 or at least 0x80. The
// signed compare with 0x20 catches both control characters and every byte
// with the top bit set, which reads as negative.
inline unsigned SpecialMask16(const char* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i quote = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('"'));
  const __m128i backslash = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'));
  const __m128i low_or_high = _mm_cmplt_epi8(bytes, _mm_set1_epi8(0x20));
  return static_cast<unsigned>(_mm_movemask_epi8(
      _mm_or_si128(_mm_or_si128(quote, backslash), low_or_high)));
}
#endif

// Returns the first byte in [p, end) that ends plain string content (see
// CharTables::string_special), or `end`. `begin` is the start of the whole
// text: a tail shorter than a vector is read as the text's last 16 bytes,
// so no load ever leaves the text.
inline const char* FindStringSpecial(const char* begin, const char* p,
                                     const char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const unsigned mask = SpecialMask16(p);
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
  if (p < end && end - begin >= 16) {
    const char* last = end - 16;
    const unsigned mask = SpecialMask16(last) >> (p - last);
    return mask != 0 ? p + __builtin_ctz(mask) : end;
  }
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // Eight bytes at a time. For each test the lowest flagged byte is exact
  // (false positives only appear above a true one), so the lowest bit of
  // the union is the first special byte.
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    const std::uint64_t quote = word ^ (kOnes * '"');
    const std::uint64_t backslash = word ^ (kOnes * '\\');
    const std::uint64_t flags = ((quote - kOnes) & ~quote) |
                                ((backslash - kOnes) & ~backslash) |
                                ((word - kOnes * 0x20) & ~word) | word;
    const std::uint64_t mask = flags & kHighs;
    if (mask != 0) return p + (__builtin_ctzll(mask) >> 3);
    p += 8;
  }
#endif
  (void)begin;
  for (; p < end; ++p) {
    if (kTables.string_special[Byte(p)]) return p;
  }
  return end;
}

// The length of the UTF-8 sequence starting at p (whose first byte is at
// least 0x80), or 0 if it is not valid RFC 3629 UTF-8: no overlong forms,
// no encoded surrogates, nothing above U+10FFFF, no truncated sequence.
inline int Utf8SequenceLength(const char* p, const char* end) {
  const std::uint8_t lead = Byte(p);
  const std::ptrdiff_t available = end - p;
  const auto continuation = [](std::uint8_t b) { return (b & 0xC0) == 0x80; };
  if (lead < 0xC2) return 0;  // A continuation byte, or overlong C0/C1.
  if (lead < 0xE0) {
    return available >= 2 && continuation(Byte(p + 1)) ? 2 : 0;
  }
  if (lead < 0xF0) {
    if (available < 3) return 0;
    const std::uint8_t second = Byte(p + 1);
    const std::uint8_t low = lead == 0xE0 ? 0xA0 : 0x80;   // Overlong.
    const std::uint8_t high = lead == 0xED ? 0x9F : 0xBF;  // Surrogates.
    if (second < low || second > high) return 0;
    return continuation(Byte(p + 2)) ? 3 : 0;
  }
  if (lead < 0xF5) {
    if (available < 4) return 0;
    const std::uint8_t second = Byte(p + 1);
    const std::uint8_t low = lead == 0xF0 ? 0x90 : 0x80;   // Overlong.
    const std::uint8_t high = lead == 0xF4 ? 0x8F : 0xBF;  // > U+10FFFF.
    if (second < low || second > high) return 0;
    return continuation(Byte(p + 2)) && continuation(Byte(p + 3)) ? 4 : 0;
  }
  return 0;
}

// Four hex digits at p (known to be in bounds), or -1.
inline int Hex4(const char* p) {
  const unsigned a = kTables.hex[Byte(p)];
  const unsigned b = kTables.hex[Byte(p + 1)];
  const unsigned c = kTables.hex[Byte(p + 2)];
  const unsigned d = kTables.hex[Byte(p + 3)];
  if ((a | b | c | d) > 15) return -1;  // A non-digit maps to 0xFF.
  return static_cast<int>((a << 12) | (b << 8) | (c << 4) | d);
}

inline bool IsHighSurrogate(int cp) { return cp >= 0xD800 && cp <= 0xDBFF; }
inline bool IsLowSurrogate(int cp) { return cp >= 0xDC00 && cp <= 0xDFFF; }

inline int Utf8Length(int cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

// A string's raw bytes between the quotes, already validated, and what
// unescaping it gives.
struct StringToken {
  const char* raw;
  std::size_t raw_size;
  std::size_t size;    // After unescaping.
  const char* escape;  // The first backslash, or nullptr if none.
};

// Produces the unescaped bytes of a validated string token one at a time,
// so keys can be compared without a buffer.
class Unescaper {
 public:
  explicit Unescaper(const StringToken& token)
      : p_(token.raw), end_(token.raw + token.raw_size) {}

  // The next byte (0..255), or -1 at the end.
  int Next() {
    if (pending_ < pending_size_) return Byte(&utf8_[pending_++]);
    if (p_ == end_) return -1;
    const char c = *p_++;
    if (c != '\\') return static_cast<std::uint8_t>(c);
    const char kind = *p_++;
    switch (kind) {
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'u':
        break;
      default:  // '"', '\\' and '/' stand for themselves.
        return static_cast<std::uint8_t>(kind);
    }
    int cp = Hex4(p_);
    p_ += 4;
    if (IsHighSurrogate(cp)) {
      const int low =
          Hex4(p_ + 2);  // Validation guarantees "\uDC00".."\uDFFF".
      p_ += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    Encode(cp);
    return Byte(&utf8_[pending_++]);
  }

 private:
  void Encode(int cp) {
    pending_ = 0;
    if (cp < 0x80) {
      utf8_[0] = static_cast<char>(cp);
      pending_size_ = 1;
    } else if (cp < 0x800) {
      utf8_[0] = static_cast<char>(0xC0 | (cp >> 6));
      utf8_[1] = static_cast<char>(0x80 | (cp & 0x3F));
      pending_size_ = 2;
    } else if (cp < 0x10000) {
      utf8_[0] = static_cast<char>(0xE0 | (cp >> 12));
      utf8_[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      utf8_[2] = static_cast<char>(0x80 | (cp & 0x3F));
      pending_size_ = 3;
    } else {
      utf8_[0] = static_cast<char>(0xF0 | (cp >> 18));
      utf8_[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      utf8_[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      utf8_[3] = static_cast<char>(0x80 | (cp & 0x3F));
      pending_size_ = 4;
    }
  }

  const char* p_;
  const char* end_;
  char utf8_[4] = {};
  int pending_ = 0;
  int pending_size_ = 0;
};

std::string Unescape(const StringToken& token) {
  if (token.escape == nullptr) return std::string(token.raw, token.raw_size);
  std::string out;
  out.reserve(token.size);
  Unescaper bytes(token);
  for (int b = bytes.Next(); b >= 0; b = bytes.Next()) {
    out.push_back(static_cast<char>(b));
  }
  return out;
}

// Orders tokens by their unescaped bytes (unsigned, shorter first on a
// common prefix).
int CompareUnescaped(const StringToken& a, const StringToken& b) {
  if (a.escape == nullptr && b.escape == nullptr) {
    const int c = std::memcmp(a.raw, b.raw, std::min(a.size, b.size));
    if (c != 0) return c;
    return a.size < b.size ? -1 : a.size > b.size ? 1 : 0;
  }
  Unescaper x(a);
  Unescaper y(b);
  for (;;) {
    const int bx = x.Next();
    const int by = y.Next();
    if (bx != by) return bx < by ? -1 : 1;
    if (bx < 0) return 0;
  }
}

bool SameKey(const StringToken& a, const StringToken& b) {
  if (a.size != b.size) return false;
  if (a.size == 0) return true;
  if (a.escape == nullptr && b.escape == nullptr) {
    // Most keys of equal length already differ in their first byte.
    return a.raw[0] == b.raw[0] && std::memcmp(a.raw, b.raw, a.size) == 0;
  }
  return CompareUnescaped(a, b) == 0;
}

bool SameKey(const StringToken& a, std::string_view plain) {
  if (a.size != plain.size()) return false;
  const StringToken b{plain.data(), plain.size(), plain.size(), nullptr};
  return SameKey(a, b);
}

// --- Error messages ------------------------------------------------------
// Every message is printable ASCII and bounded, whatever the input held.

void AppendQuoted(std::string_view bytes, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('"');
  const std::size_t shown = std::min(bytes.size(), kMaxQuotedBytes);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto b = static_cast<std::uint8_t>(bytes[i]);
    if (b == '"' || b == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(b));
    } else if (b >= 0x20 && b < 0x7F) {
      out.push_back(static_cast<char>(b));
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  if (shown < bytes.size()) out += "...";
  out.push_back('"');
}

std::string Quoted(std::string_view bytes) {
  std::string out;
  AppendQuoted(bytes, out);
  return out;
}

bool IsIdentifier(std::string_view key) {
  if (key.empty() || key.size() > kMaxQuotedBytes) return false;
  const auto is_alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!is_alpha(key.front())) return false;
  for (char c : key.substr(1)) {
    if (!is_alpha(c) && !IsDigit(c)) return false;
  }
  return true;
}

// ".key" or "[\"a key\"]", as json::ChildPath spells them.
std::string KeyComponent(const StringToken& key) {
  const std::string text = Unescape(key);
  if (IsIdentifier(text)) return "." + text;
  std::string out = "[";
  AppendQuoted(text, out);
  out.push_back(']');
  return out;
}

std::string IndexComponent(std::size_t index) {
  std::string out = "[";
  out += std::to_string(index);
  out += ']';
  return out;
}

// What the parser found where it expected something else.
std::string Found(const char* at, const char* end) {
  if (at >= end) return "end of input";
  const auto b = static_cast<std::uint8_t>(*at);
  if (b >= 0x20 && b < 0x7F) return std::string("'") + *at + "'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("byte 0x") + kHex[b >> 4] + kHex[b & 0xF];
}

// --- Storage -------------------------------------------------------------

// A stack of trivially copyable entries kept inline up to N; only a
// document nested or keyed beyond that touches the heap.
template <typename T, std::size_t N>
class InlineStack {
 public:
  InlineStack() = default;
  InlineStack(const InlineStack&) = delete;
  InlineStack& operator=(const InlineStack&) = delete;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }

  void push_back(const T& value) {
    if (size_ == capacity_) Grow();
    data_[size_++] = value;
  }
  // The slot push_back would fill, for building an entry in place; Commit()
  // then keeps it. Writing in place avoids copying a freshly stored struct,
  // which stalls on store-to-load forwarding.
  T* Slot() {
    if (size_ == capacity_) Grow();
    return data_ + size_;
  }
  void Commit() { ++size_; }
  void pop_back() { --size_; }
  void truncate(std::size_t size) { size_ = size; }

 private:
  void Grow() {
    const std::size_t capacity = capacity_ * 2;
    auto heap = std::make_unique_for_overwrite<T[]>(capacity);
    std::copy(data_, data_ + size_, heap.get());
    heap_ = std::move(heap);
    data_ = heap_.get();
    capacity_ = capacity;
  }

  T inline_[N];
  T* data_ = inline_;
  std::size_t size_ = 0;
  std::size_t capacity_ = N;
  std::unique_ptr<T[]> heap_;
};

// --- Lexer ---------------------------------------------------------------

enum class NumberKind {
  kInvalid,        // Not a number by the grammar; the error is set.
  kInteger,        // An integer literal within +-kMaxSafeInteger.
  kIntegerBeyond,  // An integer literal beyond it.
  kFloat,          // A finite floating-point literal.
  kFloatOverflow,  // A literal that rounds to infinity as a double.
};

// Reads single tokens from a borrowed text; the first error is kept.
class Lexer {
 public:
  Lexer(const char* begin, const char* end) : begin_(begin), end_(end) {}

  const char* begin() const { return begin_; }
  const char* end() const { return end_; }
  Status TakeError() { return std::move(error_); }

  // Syntax errors: "byte N: <what>, found <what was there>".
  [[gnu::cold]] [[gnu::noinline]] bool Fail(const char* at,
                                            std::string_view what) {
    if (!error_.ok()) return false;
    std::string message = "byte " + std::to_string(at - begin_) + ": ";
    if (at < end_ && *at == '\0') {
      message += "NUL byte not allowed";
    } else {
      message += what;
      message += ", found ";
      message += Found(at, end_);
    }
    error_ = Status::Invalid(std::move(message));
    return false;
  }

  // Errors with their own complete description.
  [[gnu::cold]] [[gnu::noinline]] bool FailWith(std::string message) {
    if (error_.ok()) error_ = Status::Invalid(std::move(message));
    return false;
  }

  std::string At(const char* at) const {
    return "byte " + std::to_string(at - begin_) + ": ";
  }

  // Reads a string whose opening quote is at p; returns the byte after the
  // closing quote, or nullptr on error. Inlined for the common string with
  // nothing but plain ASCII before its quote; anything else continues out
  // of line.
  [[gnu::always_inline]] inline const char* ScanString(const char* p,
                                                       StringToken* token) {
    const char* const content = p + 1;
    const char* const s = FindStringSpecial(begin_, content, end_);
    if (s < end_ && *s == '"') [[likely]] {
      const auto size = static_cast<std::size_t>(s - content);
      *token = {content, size, size, nullptr};
      return s + 1;
    }
    return ScanStringRest(content, s, token);
  }

  // Reads a number starting at p (a '-' or a digit); leaves p after it.
  // `value` is set for kInteger.
  NumberKind ScanNumber(const char*& p, std::int64_t* value) {
    const char* s = p;
    const bool negative = *s == '-';
    if (negative) ++s;
    if (s == end_ || !IsDigit(*s)) {
      Fail(s, "expected a digit");
      return NumberKind::kInvalid;
    }
    const char* const int_begin = s;
    std::uint64_t magnitude = 0;
    if (*s == '0') {
      ++s;
      // "01" would read as two numbers; say why rather than what follows.
      if (s < end_ && IsDigit(*s)) {
        Fail(s, "leading zeros are not allowed");
        return NumberKind::kInvalid;
      }
    } else {
      while (s < end_ && IsDigit(*s)) {
        magnitude = magnitude * 10 + static_cast<unsigned>(*s - '0');
        ++s;
        // Stop accumulating before the value could wrap; the digit count
        // alone then decides.
        if (s - int_begin > kMaxSafeDigits) break;
      }
      while (s < end_ && IsDigit(*s)) ++s;
    }
    const char* const int_end = s;
    const bool fraction = s < end_ && *s == '.';
    const char* frac_begin = s;
    if (fraction) {
      ++s;
      frac_begin = s;
      if (s == end_ || !IsDigit(*s)) {
        Fail(s, "expected a digit after '.'");
        return NumberKind::kInvalid;
      }
      while (s < end_ && IsDigit(*s)) ++s;
    }
    const char* const frac_end = s;
    const bool exponent = s < end_ && (*s == 'e' || *s == 'E');
    std::int64_t exp = 0;
    if (exponent) {
      ++s;
      bool exp_negative = false;
      if (s < end_ && (*s == '+' || *s == '-')) {
        exp_negative = *s == '-';
        ++s;
      }
      if (s == end_ || !IsDigit(*s)) {
        Fail(s, "expected a digit in the exponent");
        return NumberKind::kInvalid;
      }
      while (s < end_ && IsDigit(*s)) {
        if (exp < kExponentClamp) exp = exp * 10 + (*s - '0');
        ++s;
      }
      if (exp_negative) exp = -exp;
    }
    const char* const start = p;
    p = s;
    if (!fraction && !exponent) {
      if (int_end - int_begin > kMaxSafeDigits ||
          magnitude > static_cast<std::uint64_t>(kMaxSafeInteger)) {
        return NumberKind::kIntegerBeyond;
      }
      const auto v = static_cast<std::int64_t>(magnitude);
      *value = negative ? -v : v;
      return NumberKind::kInteger;
    }
    return FloatIsFinite(start, s, int_begin, int_end, frac_begin, frac_end,
                         exp)
               ? NumberKind::kFloat
               : NumberKind::kFloatOverflow;
  }

  // Reads one of true, false, null at p.
  bool ScanLiteral(const char*& p, std::string_view literal) {
    if (static_cast<std::size_t>(end_ - p) >= literal.size() &&
        std::memcmp(p, literal.data(), literal.size()) == 0) {
      p += literal.size();
      return true;
    }
    return Fail(p, "expected a value");
  }

 private:
  // ScanString from s, the first byte of the content at `content` that is
  // not plain ASCII.
  [[gnu::noinline]] const char* ScanStringRest(const char* content,
                                               const char* s,
                                               StringToken* token) {
    const char* const begin = begin_;
    const char* const end = end_;
    std::size_t shrink = 0;  // Raw bytes minus unescaped bytes.
    const char* first_escape = nullptr;
    for (;;) {
      if (s == end) {
        Fail(s, "unterminated string");
        return nullptr;
      }
      const char c = *s;
      if (c == '"') break;
      if (c == '\\') {
        if (first_escape == nullptr) first_escape = s;
        if (!ScanEscape(s, &shrink)) return nullptr;
      } else if (Byte(s) < 0x20) {
        Fail(s, "control character in a string");
        return nullptr;
      } else {
        const int length = Utf8SequenceLength(s, end);
        if (length == 0) {
          Fail(s, "invalid UTF-8 in a string");
          return nullptr;
        }
        s += length;
      }
      s = FindStringSpecial(begin, s, end);
    }
    const auto raw_size = static_cast<std::size_t>(s - content);
    *token = {content, raw_size, raw_size - shrink, first_escape};
    return s + 1;
  }

  // Validates the escape at s (a backslash) and steps over it.
  bool ScanEscape(const char*& s, std::size_t* shrink) {
    if (end_ - s < 2) return Fail(s + 1, "unterminated escape sequence");
    switch (s[1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        s += 2;
        *shrink += 1;
        return true;
      case 'u':
        break;
      default:
        return Fail(s + 1, "invalid escape sequence");
    }
    if (end_ - s < 6) return Fail(s, "truncated \\u escape");
    const int cp = Hex4(s + 2);
    if (cp < 0) return Fail(s, "\\u must be followed by four hex digits");
    if (IsLowSurrogate(cp)) {
      return Fail(s, "lone low surrogate in a \\u escape");
    }
    if (!IsHighSurrogate(cp)) {
      s += 6;
      *shrink += static_cast<std::size_t>(6 - Utf8Length(cp));
      return true;
    }
    if (end_ - s < 12 || s[6] != '\\' || s[7] != 'u') {
      return Fail(s, "high surrogate not followed by a \\u low surrogate");
    }
    const int low = Hex4(s + 8);
    if (low < 0 || !IsLowSurrogate(low)) {
      return Fail(s, "high surrogate not followed by a \\u low surrogate");
    }
    s += 12;
    *shrink += 12 - 4;
    return true;
  }

  // Whether the float literal [start, end) is finite as a double, as
  // strtod (which nlohmann uses) rounds it. Only literals whose leading
  // digit is at 10^308 need an exact conversion.
  static bool FloatIsFinite(const char* start, const char* end,
                            const char* int_begin, const char* int_end,
                            const char* frac_begin, const char* frac_end,
                            std::int64_t exp) {
    std::int64_t lead;  // The decimal exponent of the leading digit.
    if (*int_begin != '0') {
      lead = (int_end - int_begin) - 1;
    } else {
      const char* d = frac_begin;
      while (d < frac_end && *d == '0') ++d;
      if (d == frac_end) return true;  // Zero, whatever the exponent.
      lead = -((d - frac_begin) + 1);
    }
    const std::int64_t magnitude = lead + exp;
    if (magnitude <= kAlwaysFiniteExponent) return true;
    if (magnitude >= kNeverFiniteExponent) return false;
    double value = 0;
    const std::from_chars_result r = std::from_chars(start, end, value);
    return r.ec != std::errc::result_out_of_range &&
           value <= std::numeric_limits<double>::max() &&
           value >= -std::numeric_limits<double>::max();
  }

  const char* begin_;
  const char* end_;
  Status error_;
};

// --- Parser --------------------------------------------------------------

struct Frame {
  std::size_t key_start;  // keys_.size() when the container opened.
  std::size_t index;      // Arrays: the element being read.
  bool object;
};

enum class Paths { kOmit, kFromRoot };

// Validates whole values with an explicit stack, so nesting costs heap
// rather than call stack however large max_depth is.
class Parser : public Lexer {
 public:
  Parser(const char* begin, const char* end, int max_depth, Paths paths)
      : Lexer(begin, end),
        max_depth_(max_depth < 0 ? 0 : static_cast<std::size_t>(max_depth)),
        paths_(paths) {}

  // Validates the value at p (after whitespace) with `depth` containers
  // already open around it; on success p is just past the value.
  bool ParseValue(const char*& pos, std::size_t depth);

 private:
  bool AddKey(const StringToken& key, const char* at);
  bool CloseObject();
  bool FailNumber(NumberKind kind, const char* at);

  // "byte N: <path>: <what>", where the path names the value at the top of
  // the stack (plus `key`, if given) when paths are enabled.
  bool FailValue(const char* at, std::string_view what,
                 const StringToken* key = nullptr);
  std::string PendingPath(const StringToken* key) const;

  const std::size_t max_depth_;
  const Paths paths_;
  InlineStack<Frame, 64> frames_;
  InlineStack<StringToken, 48> keys_;
};

bool Parser::ParseValue(const char*& pos, std::size_t depth) {
  const char* const end = this->end();
  const char* p = pos;
  StringToken token;
  std::int64_t integer;
  frames_.truncate(0);
  keys_.truncate(0);

value:
  p = SkipWhitespace(p, end);
  if (p == end) return Fail(p, "expected a value");
  switch (*p) {
    case '{':
      if (depth + frames_.size() >= max_depth_) {
        return FailValue(p, "nesting deeper than the limit of " +
                                std::to_string(max_depth_));
      }
      frames_.push_back({keys_.size(), 0, true});
      p = SkipWhitespace(p + 1, end);
      if (p < end && *p == '}') {
        ++p;
        frames_.pop_back();
        goto after_value;
      }
      goto key;
    case '[':
      if (depth + frames_.size() >= max_depth_) {
        return FailValue(p, "nesting deeper than the limit of " +
                                std::to_string(max_depth_));
      }
      frames_.push_back({keys_.size(), 0, false});
      p = SkipWhitespace(p + 1, end);
      if (p < end && *p == ']') {
        ++p;
        frames_.pop_back();
        goto after_value;
      }
      goto value;
    case '"':
      p = ScanString(p, &token);
      if (p == nullptr) return false;
      goto after_value;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': {
      const char* const start = p;
      const NumberKind kind = ScanNumber(p, &integer);
      if (kind != NumberKind::kInteger && kind != NumberKind::kFloat) {
        return FailNumber(kind, start);
      }
      goto after_value;
    }
    case 't':
      if (!ScanLiteral(p, "true")) return false;
      goto after_value;
    case 'f':
      if (!ScanLiteral(p, "false")) return false;
      goto after_value;
    case 'n':
      if (!ScanLiteral(p, "null")) return false;
      goto after_value;
    default:
      return Fail(p, "expected a value");
  }

key:  // p is at the first non-whitespace byte after '{' or ','.
  if (p == end || *p != '"') return Fail(p, "expected a string key");
  {
    const char* const at = p;
    StringToken* key = keys_.Slot();
    p = ScanString(p, key);
    if (p == nullptr) return false;
    if (!AddKey(*key, at)) return false;
  }
  p = SkipWhitespace(p, end);
  if (p == end || *p != ':') return Fail(p, "expected ':'");
  ++p;
  goto value;

after_value:
  if (frames_.empty()) {
    pos = p;
    return true;
  }
  p = SkipWhitespace(p, end);
  if (frames_.back().object) {
    if (p < end && *p == ',') {
      p = SkipWhitespace(p + 1, end);
      goto key;
    }
    if (p < end && *p == '}') {
      if (!CloseObject()) return false;
      ++p;
      keys_.truncate(frames_.back().key_start);
      frames_.pop_back();
      goto after_value;
    }
    return Fail(p, "expected ',' or '}'");
  }
  if (p < end && *p == ',') {
    ++frames_.back().index;
    ++p;
    goto value;
  }
  if (p < end && *p == ']') {
    ++p;
    frames_.pop_back();
    goto after_value;
  }
  return Fail(p, "expected ',' or ']'");
}

// `key` is the uncommitted slot just past the current keys.
bool Parser::AddKey(const StringToken& key, const char* at) {
  const std::size_t start = frames_.back().key_start;
  if (keys_.size() - start < kLinearKeyLimit) {
    for (std::size_t i = start; i < keys_.size(); ++i) {
      if (keys_[i].size == key.size && SameKey(keys_[i], key)) {
        return FailValue(at, "duplicate key " + Quoted(Unescape(key)), &key);
      }
    }
  }
  keys_.Commit();
  return true;
}

// Objects past kLinearKeyLimit keys were not checked as they grew: sort
// their keys (by unescaped bytes, then position) and compare neighbours.
bool Parser::CloseObject() {
  StringToken* first = keys_.begin() + frames_.back().key_start;
  StringToken* last = keys_.end();
  if (static_cast<std::size_t>(last - first) <= kLinearKeyLimit) return true;
  std::sort(first, last, [](const StringToken& a, const StringToken& b) {
    if (a.size != b.size) return a.size < b.size;
    const int c = CompareUnescaped(a, b);
    return c != 0 ? c < 0 : a.raw < b.raw;
  });
  // Report the duplicate that comes first in the document.
  const StringToken* duplicate = nullptr;
  for (const StringToken* k = first + 1; k < last; ++k) {
    if (SameKey(k[-1], *k) &&
        (duplicate == nullptr || k->raw < duplicate->raw)) {
      duplicate = k;
    }
  }
  if (duplicate == nullptr) return true;
  // The sort reordered only this object's keys; the path reads the keys of
  // the enclosing objects, which lie below them.
  return FailValue(duplicate->raw - 1,
                   "duplicate key " + Quoted(Unescape(*duplicate)), duplicate);
}

bool Parser::FailNumber(NumberKind kind, const char* at) {
  switch (kind) {
    case NumberKind::kIntegerBeyond:
      return FailValue(at, "integer beyond 2^53 - 1 in magnitude");
    case NumberKind::kFloatOverflow:
      return FailValue(at, "number too large for a double");
    case NumberKind::kInvalid:
    case NumberKind::kInteger:
    case NumberKind::kFloat:
      break;
  }
  return false;  // kInvalid: the lexer has set the error.
}

bool Parser::FailValue(const char* at, std::string_view what,
                       const StringToken* key) {
  std::string message = At(at);
  if (paths_ == Paths::kFromRoot) {
    message += PendingPath(key);
    message += ": ";
  }
  message += what;
  return FailWith(std::move(message));
}

// The path of the value about to be read, built from the innermost frame
// outwards; beyond the innermost step it stops before kMaxPathChars (a
// "$..." prefix marks the cut).
std::string Parser::PendingPath(const StringToken* key) const {
  std::vector<std::string> parts;
  std::size_t chars = 0;
  // The member or element at frame i's current position; frame i's
  // current key is the last one before frame i + 1 opened.
  const auto component = [&](std::size_t i, std::size_t next_key_start) {
    const Frame& frame = frames_[i];
    if (!frame.object) return IndexComponent(frame.index);
    return KeyComponent(keys_[next_key_start - 1]);
  };
  bool cut = false;
  if (key != nullptr) {
    parts.push_back(KeyComponent(*key));
    chars += parts.back().size();
  } else if (!frames_.empty()) {
    const Frame& top = frames_.back();
    if (!top.object) {
      parts.push_back(IndexComponent(top.index));
    } else if (keys_.size() > top.key_start) {
      parts.push_back(KeyComponent(keys_.back()));
    }
    if (!parts.empty()) chars += parts.back().size();
  }
  for (std::size_t i = frames_.size(); i-- > 1;) {
    std::string part = component(i - 1, frames_[i].key_start);
    if (chars + part.size() > kMaxPathChars) {
      cut = true;
      break;
    }
    chars += part.size();
    parts.push_back(std::move(part));
  }
  std::string path = cut ? "$..." : "$";
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) path += *it;
  return path;
}

}  // namespace

Status ValidateStrict(std::string_view text, const ParseOptions& options) {
  if (text.size() > options.max_bytes) {
    return Status::ResourceExhausted(
        "JSON body is " + std::to_string(text.size()) +
        " bytes, over the limit of " + std::to_string(options.max_bytes));
  }
  if (text.starts_with(kByteOrderMark)) {
    return Status::Invalid("byte 0: byte-order mark not allowed");
  }
  // A NUL byte needs no separate pass: the grammar allows none outside
  // strings, nor raw inside them, so the scan below rejects every one.
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  Parser parser(begin, end, options.max_depth, Paths::kFromRoot);
  const char* p = begin;
  if (!parser.ParseValue(p, 0)) return parser.TakeError();
  p = SkipWhitespace(p, end);
  if (p != end) {
    parser.Fail(p, "expected the end of the text");
    return parser.TakeError();
  }
  return Status::Ok();
}

Status Scanner::Expect(char c) {
  const char* const begin = text_.data();
  const char* const end = begin + text_.size();
  const char* p = SkipWhitespace(begin + pos_, end);
  if (p < end && *p == c) {
    pos_ = static_cast<std::size_t>(p + 1 - begin);
    return Status::Ok();
  }
  Lexer lexer(begin, end);
  lexer.Fail(p, "expected " + Found(&c, &c + 1));
  return lexer.TakeError();
}

Status Scanner::ExpectKey(std::string_view key) {
  const char* const begin = text_.data();
  const char* const end = begin + text_.size();
  Lexer lexer(begin, end);
  const char* p = SkipWhitespace(begin + pos_, end);
  const char* const at = p;
  if (p == end || *p != '"') {
    lexer.Fail(p, "expected the key " + Quoted(key));
    return lexer.TakeError();
  }
  StringToken token;
  p = lexer.ScanString(p, &token);
  if (p == nullptr) return lexer.TakeError();
  if (!SameKey(token, key)) {
    lexer.FailWith(lexer.At(at) + "expected the key " + Quoted(key) +
                   ", found " + Quoted(Unescape(token)));
    return lexer.TakeError();
  }
  p = SkipWhitespace(p, end);
  if (p == end || *p != ':') {
    lexer.Fail(p, "expected ':'");
    return lexer.TakeError();
  }
  pos_ = static_cast<std::size_t>(p + 1 - begin);
  return Status::Ok();
}

Result<std::int64_t> Scanner::Integer() {
  const char* const begin = text_.data();
  const char* const end = begin + text_.size();
  Lexer lexer(begin, end);
  const char* p = SkipWhitespace(begin + pos_, end);
  const char* const at = p;
  if (p == end || (*p != '-' && !IsDigit(*p))) {
    lexer.Fail(p, "expected an integer");
    return lexer.TakeError();
  }
  std::int64_t value = 0;
  switch (lexer.ScanNumber(p, &value)) {
    case NumberKind::kInteger:
      pos_ = static_cast<std::size_t>(p - begin);
      return value;
    case NumberKind::kIntegerBeyond:
      lexer.FailWith(lexer.At(at) + "integer beyond 2^53 - 1 in magnitude");
      break;
    case NumberKind::kFloat:
    case NumberKind::kFloatOverflow:
      lexer.FailWith(lexer.At(at) +
                     "expected an integer, found a floating-point number");
      break;
    case NumberKind::kInvalid:
      break;
  }
  return lexer.TakeError();
}

Result<std::string> Scanner::String() {
  const char* const begin = text_.data();
  const char* const end = begin + text_.size();
  Lexer lexer(begin, end);
  const char* p = SkipWhitespace(begin + pos_, end);
  if (p == end || *p != '"') {
    lexer.Fail(p, "expected a string");
    return lexer.TakeError();
  }
  StringToken token;
  p = lexer.ScanString(p, &token);
  if (p == nullptr) return lexer.TakeError();
  pos_ = static_cast<std::size_t>(p - begin);
  return Unescape(token);
}

Result<std::string_view> Scanner::PlainString() {
  const char* const begin = text_.data();
  const char* const end = begin + text_.size();
  Lexer lexer(begin, end);
  const char* p = SkipWhitespace(begin + pos_, end);
  if (p == end || *p != '"') {
    lexer.Fail(p, "expected a string");
    return lexer.TakeError();
  }
  StringToken token;
  p = lexer.ScanString(p, &token);
  if (p == nullptr) return lexer.TakeError();
  if (token.escape != nullptr) {
    lexer.FailWith(lexer.At(token.escape) +
                   "escape sequence in a string that must be plain");
    return lexer.TakeError();
  }
  pos_ = static_cast<std::size_t>(p - begin);
  return std::string_view(token.raw, token.raw_size);
}

Result<std::string_view> Scanner::Value(int depth) {
  const char* const begin = text_.data();
  const char* const end = begin + text_.size();
  Parser parser(begin, end, max_depth_, Paths::kOmit);
  const char* p = SkipWhitespace(begin + pos_, end);
  const char* const start = p;
  if (!parser.ParseValue(p, depth < 0 ? 0 : static_cast<std::size_t>(depth))) {
    return parser.TakeError();
  }
  pos_ = static_cast<std::size_t>(p - begin);
  return std::string_view(start, static_cast<std::size_t>(p - start));
}

Status Scanner::End() {
  const char* const begin = text_.data();
  const char* const end = begin + text_.size();
  const char* p = SkipWhitespace(begin + pos_, end);
  pos_ = static_cast<std::size_t>(p - begin);
  if (p == end) return Status::Ok();
  Lexer lexer(begin, end);
  lexer.Fail(p, "expected the end of the text");
  return lexer.TakeError();
}

}  // namespace deputy::json
