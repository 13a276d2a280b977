// piwebasync.hpp — a header-only C++ RAII wrapper of the piwebasync C ABI (piwebasync.h).
//
// C++14 or later. Under C++17 (detected by the standard feature-test macros) `string_view` and
// `optional` below are string_view and optional; under C++14 they are small
// stand-ins in this namespace with the subset of the std interface the wrapper uses.
//
// Link with the C library (-lpiwebasync). Everything lives in namespace `piwebasync`.
//
// Errors
// - A call that fails (a negative pwa_status that is misuse or a failure of the call) throws
//   `piwebasync::Error`, carrying the status and the library's message (pwa_last_error, or
//   pwa_channel_last_error for a channel's own cause).
// - Outcomes that are not failures are return values, never exceptions: a poll timeout
//   (PWA_TIMEOUT), a channel's terminal status (PWA_CLOSED, PWA_CLOSED_ERROR,
//   PWA_WATCHDOG_TIMEOUT, PWA_UPDATE_FAILED, or the failure that ended the channel, e.g.
//   PWA_ERR_AUTH), and an update's PWA_ROLLED_BACK / PWA_UPDATE_FAILED.
//
// Threading (as in piwebasync.h)
// - Every C call is thread-safe. One thread at a time may poll a given channel (a second
//   concurrent poller gets PWA_ERR_BUSY, thrown as Error). Channel::open, Channel::poll with a
//   timeout, Channel::update and the Channel destructor block the calling thread;
//   Channel::close never blocks.
// - The C++ objects themselves (Config, Message, Channel) are not synchronised: do not move,
//   assign or destroy one while another thread uses it. A Config is used by one thread at a
//   time; a Message may be read from any thread, by one thread at a time.
// - Callbacks run on the channel's own callback thread, one at a time, in order. Inside a
//   callback only non-blocking calls work (Channel::close, state, stats, poll with timeout 0
//   on a poll-mode channel ...); blocking calls throw Error(PWA_ERR_RECURSIVE_CALL).
#ifndef PIWEBASYNC_HPP
#define PIWEBASYNC_HPP

#include "piwebasync.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if __cplusplus >= 201703L || (defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#include <optional>
#include <string_view>
#endif
#if defined(__cpp_lib_string_view) && defined(__cpp_lib_optional)
#define PIWEBASYNC_HPP_STD17 1
#else
#include <new>
#include <ostream>
#endif
#if defined(__cpp_inline_variables)
#define PIWEBASYNC_HPP_INLINE_VAR inline
#else
#define PIWEBASYNC_HPP_INLINE_VAR
#endif

namespace piwebasync {

#if defined(PIWEBASYNC_HPP_STD17)
using string_view = std::string_view;
template <class T>
using optional = std::optional<T>;
using nullopt_t = std::nullopt_t;
constexpr nullopt_t nullopt = std::nullopt;
#else
/// C++14 stand-in for std::string_view: a non-owning (pointer, length) view of characters.
class string_view {
public:
    typedef std::size_t size_type;
    typedef const char* const_iterator;
    static constexpr size_type npos = static_cast<size_type>(-1);

    constexpr string_view() noexcept : p_(nullptr), n_(0) {}
    constexpr string_view(const char* p, size_type n) noexcept : p_(p), n_(n) {}
    string_view(const char* s) noexcept : p_(s), n_(s ? std::strlen(s) : 0) {}
    string_view(const std::string& s) noexcept : p_(s.data()), n_(s.size()) {}

    constexpr const char* data() const noexcept { return p_; }
    constexpr size_type size() const noexcept { return n_; }
    constexpr size_type length() const noexcept { return n_; }
    constexpr bool empty() const noexcept { return n_ == 0; }
    constexpr const_iterator begin() const noexcept { return p_; }
    constexpr const_iterator end() const noexcept { return p_ + n_; }
    constexpr char operator[](size_type i) const noexcept { return p_[i]; }
    char front() const noexcept { return p_[0]; }
    char back() const noexcept { return p_[n_ - 1]; }

    string_view substr(size_type pos, size_type count = npos) const {
        if (pos > n_) throw std::out_of_range("piwebasync::string_view::substr");
        return string_view(p_ + pos, std::min(count, n_ - pos));
    }
    size_type find(char c, size_type pos = 0) const noexcept {
        for (size_type i = pos; i < n_; ++i)
            if (p_[i] == c) return i;
        return npos;
    }
    size_type find(string_view v, size_type pos = 0) const noexcept {
        if (v.n_ > n_) return npos;
        for (size_type i = pos; i + v.n_ <= n_; ++i)
            if (v.n_ == 0 || std::memcmp(p_ + i, v.p_, v.n_) == 0) return i;
        return npos;
    }
    int compare(string_view o) const noexcept {
        size_type k = std::min(n_, o.n_);
        int c = k ? std::memcmp(p_, o.p_, k) : 0;
        if (c != 0) return c;
        return n_ < o.n_ ? -1 : (n_ > o.n_ ? 1 : 0);
    }
    operator std::string() const { return n_ ? std::string(p_, n_) : std::string(); }

private:
    const char* p_;
    size_type n_;
};
inline bool operator==(string_view a, string_view b) noexcept { return a.compare(b) == 0; }
inline bool operator!=(string_view a, string_view b) noexcept { return a.compare(b) != 0; }
inline bool operator<(string_view a, string_view b) noexcept { return a.compare(b) < 0; }
inline std::string& operator+=(std::string& s, string_view v) { return s.append(v.data(), v.size()); }
inline std::string operator+(std::string s, string_view v) { return s.append(v.data(), v.size()); }
inline std::ostream& operator<<(std::ostream& os, string_view v) {
    return os.write(v.data(), static_cast<std::streamsize>(v.size()));
}

/// C++14 stand-in for std::nullopt_t / std::nullopt.
struct nullopt_t {
    explicit constexpr nullopt_t(int) {}
};
constexpr nullopt_t nullopt{0};

/// C++14 stand-in for std::optional (also for move-only T): empty, or holds one T in place.
template <class T>
class optional {
public:
    optional() noexcept : has_(false) {}
    optional(nullopt_t) noexcept : has_(false) {}
    optional(const T& v) : has_(false) { emplace(v); }
    optional(T&& v) : has_(false) { emplace(std::move(v)); }
    optional(const optional& o) : has_(false) {
        if (o.has_) emplace(*o);
    }
    optional(optional&& o) noexcept(std::is_nothrow_move_constructible<T>::value) : has_(false) {
        if (o.has_) emplace(std::move(*o));
    }
    optional& operator=(const optional& o) {
        if (this != &o) {
            reset();
            if (o.has_) emplace(*o);
        }
        return *this;
    }
    optional& operator=(optional&& o) noexcept(std::is_nothrow_move_constructible<T>::value) {
        if (this != &o) {
            reset();
            if (o.has_) emplace(std::move(*o));
        }
        return *this;
    }
    optional& operator=(nullopt_t) noexcept {
        reset();
        return *this;
    }
    ~optional() { reset(); }

    template <class... Args>
    T& emplace(Args&&... args) {
        reset();
        ::new (static_cast<void*>(&buf_)) T(std::forward<Args>(args)...);
        has_ = true;
        return **this;
    }
    void reset() noexcept {
        if (has_) {
            ptr()->~T();
            has_ = false;
        }
    }
    bool has_value() const noexcept { return has_; }
    explicit operator bool() const noexcept { return has_; }
    T& operator*() & noexcept { return *ptr(); }
    const T& operator*() const& noexcept { return *ptr(); }
    T&& operator*() && noexcept { return std::move(*ptr()); }
    T* operator->() noexcept { return ptr(); }
    const T* operator->() const noexcept { return ptr(); }
    T& value() & {
        if (!has_) throw std::logic_error("piwebasync::optional: no value");
        return *ptr();
    }
    const T& value() const& {
        if (!has_) throw std::logic_error("piwebasync::optional: no value");
        return *ptr();
    }
    T&& value() && {
        if (!has_) throw std::logic_error("piwebasync::optional: no value");
        return std::move(*ptr());
    }

private:
    T* ptr() noexcept { return reinterpret_cast<T*>(&buf_); }
    const T* ptr() const noexcept { return reinterpret_cast<const T*>(&buf_); }
    typename std::aligned_storage<sizeof(T), alignof(T)>::type buf_;
    bool has_;
};
#endif

// ----------------------------------------------------------------------------------------------
// Status helpers
// ----------------------------------------------------------------------------------------------

/// The static name of a status, e.g. "PWA_CLOSED".
inline const char* status_name(pwa_status s) noexcept { return pwa_status_name(s); }
/// The static description of a status.
inline const char* status_str(pwa_status s) noexcept { return pwa_status_str(s); }
/// The version of the loaded library, e.g. "0.1.0".
inline const char* version() noexcept { return pwa_version(); }

/// True for the statuses a channel ends with (as poll / update report them): everything but
/// PWA_OK, PWA_TIMEOUT, PWA_ROLLED_BACK and the misuse codes.
inline bool is_terminal(pwa_status s) noexcept;

/// A readable name of a PWA_EVENT_* kind ("CONNECTED" ...; "UNKNOWN" for others).
inline const char* event_kind_name(pwa_event_kind kind) noexcept {
    switch (kind) {
    case PWA_EVENT_CONNECTED: return "CONNECTED";
    case PWA_EVENT_DISCONNECTED: return "DISCONNECTED";
    case PWA_EVENT_RECONNECTING: return "RECONNECTING";
    case PWA_EVENT_RECONNECTED: return "RECONNECTED";
    case PWA_EVENT_UPDATED: return "UPDATED";
    case PWA_EVENT_ROLLED_BACK: return "ROLLED_BACK";
    case PWA_EVENT_CLOSED: return "CLOSED";
    case PWA_EVENT_BACKFILL_STARTED: return "BACKFILL_STARTED";
    case PWA_EVENT_BACKFILL_DONE: return "BACKFILL_DONE";
    case PWA_EVENT_BACKFILL_FAILED: return "BACKFILL_FAILED";
    default: return "UNKNOWN";
    }
}

namespace detail {

// Statuses that mean the call itself was misused or broke (never a channel's outcome).
inline bool is_misuse(pwa_status s) noexcept {
    switch (s) {
    case PWA_ERR_INVALID_ARGUMENT:
    case PWA_ERR_INVALID_HANDLE:
    case PWA_ERR_BUFFER_TOO_SMALL:
    case PWA_ERR_RECURSIVE_CALL:
    case PWA_ERR_BUSY:
    case PWA_ERR_PANIC:
    case PWA_ERR_INTERNAL:
        return true;
    default:
        return false;
    }
}

// Reads a string through a C call of the shape f(buf, cap, &needed) -> status. One call with a
// stack buffer serves the usual case; a larger message is read again with the size reported.
template <class F>
std::string read_string(F&& f) {
    char small[512];
    small[0] = '\0';
    std::size_t needed = 0;
    pwa_status s = f(small, sizeof small, &needed);
    if (s == PWA_OK) return std::string(small);
    if (s == PWA_ERR_BUFFER_TOO_SMALL && needed > sizeof small) {
        std::string big(needed, '\0');
        if (f(&big[0], big.size(), &needed) == PWA_OK) {
            big.resize(std::strlen(big.c_str()));
            return big;
        }
    }
    return std::string(small);  // truncated (or empty) rather than nothing
}

}  // namespace detail

/// The message of the last failed call made on this thread (pwa_last_error).
inline std::string last_error() {
    return detail::read_string(
        [](char* b, std::size_t c, std::size_t* n) { return pwa_last_error(b, c, n); });
}

/// The last error of channel `h` (pwa_channel_last_error); "" when none or the handle is bad.
inline std::string channel_last_error(pwa_channel_t h) {
    return detail::read_string(
        [h](char* b, std::size_t c, std::size_t* n) { return pwa_channel_last_error(h, b, c, n); });
}

// ----------------------------------------------------------------------------------------------
// Error
// ----------------------------------------------------------------------------------------------

/// A failed call: the pwa_status (always negative) and the library's message. `what()` is
/// "STATUS_NAME: message"; `message()` the library's message alone.
class Error : public std::runtime_error {
public:
    Error(pwa_status status, const std::string& message)
        : std::runtime_error(std::string(pwa_status_name(status)) + ": " +
                             (message.empty() ? std::string(pwa_status_str(status)) : message)),
          status_(status),
          prefix_(std::strlen(pwa_status_name(status)) + 2) {}

    pwa_status status() const noexcept { return status_; }
    const char* status_name() const noexcept { return pwa_status_name(status_); }
    /// The library's message (pwa_last_error / pwa_channel_last_error), or the status's
    /// description when the library gave none.
    string_view message() const noexcept { return string_view(what()).substr(prefix_); }

private:
    pwa_status status_;
    std::size_t prefix_;
};

namespace detail {

// Throws the failure of a call made just now on this thread, with pwa_last_error's message.
[[noreturn]] inline void fail(pwa_status s) { throw Error(s, last_error()); }

// As fail(), for a call on channel `h`: the call's own message first, else the channel's.
[[noreturn]] inline void fail_channel(pwa_status s, pwa_channel_t h) {
    std::string msg = last_error();
    if (msg.empty() && h != 0) msg = channel_last_error(h);
    throw Error(s, msg);
}

inline void check(pwa_status s) {
    if (s != PWA_OK) fail(s);
}

// A NUL-terminated copy for the C API; an embedded NUL would silently cut the string, so it is
// refused the way the library refuses bad input.
inline std::string c_string(string_view v, const char* what) {
    if (v.find('\0') != string_view::npos)
        throw Error(PWA_ERR_INVALID_ARGUMENT, std::string(what) + " contains a NUL character");
    return std::string(v);
}

inline string_view view(const char* s) noexcept {
    return s ? string_view(s) : string_view();
}

inline int32_t clamp_timeout(std::chrono::milliseconds t) noexcept {
    if (t.count() < 0) return -1;
    if (t.count() > std::numeric_limits<int32_t>::max()) return std::numeric_limits<int32_t>::max();
    return static_cast<int32_t>(t.count());
}

}  // namespace detail

inline bool is_terminal(pwa_status s) noexcept {
    return s != PWA_OK && s != PWA_TIMEOUT && s != PWA_ROLLED_BACK && !detail::is_misuse(s);
}

// ----------------------------------------------------------------------------------------------
// Config
// ----------------------------------------------------------------------------------------------

/// Channel configuration (owns a pwa_config*; move-only). `set` throws Error on a rejected key
/// or value, with the library's message (which names the key); a rejected call leaves the
/// configuration unchanged. Channel::open copies it: it may be destroyed right after. Use a
/// Config from one thread at a time.
class Config {
public:
    Config() : cfg_(pwa_config_new()) {
        if (!cfg_) throw Error(PWA_ERR_PANIC, last_error());
    }
    ~Config() { pwa_config_free(cfg_); }
    Config(Config&& o) noexcept : cfg_(std::exchange(o.cfg_, nullptr)) {}
    Config& operator=(Config&& o) noexcept {
        if (this != &o) {
            pwa_config_free(cfg_);
            cfg_ = std::exchange(o.cfg_, nullptr);
        }
        return *this;
    }
    Config(const Config&) = delete;
    Config& operator=(const Config&) = delete;

    /// Set `key` to `value` as text (durations in seconds, booleans true/false...).
    Config& set(string_view key, string_view value) {
        std::string k = detail::c_string(key, "configuration key");
        std::string v = detail::c_string(value, "configuration value");
        detail::check(pwa_config_set(cfg_, k.c_str(), v.c_str()));
        return *this;
    }
    // Without this overload a string literal would pick set(key, bool).
    Config& set(string_view key, const char* value) {
        if (!value) {
            std::string k = detail::c_string(key, "configuration key");
            detail::check(pwa_config_set(cfg_, k.c_str(), nullptr));
            return *this;
        }
        return set(key, string_view(value));
    }
    Config& set(string_view key, const std::string& value) {
        return set(key, string_view(value));
    }
    Config& set(string_view key, bool value) { return set(key, value ? "true" : "false"); }
    template <class T, std::enable_if_t<std::is_integral<T>::value && !std::is_same<T, bool>::value &&
                                            !std::is_same<T, char>::value,
                                        int> = 0>
    Config& set(string_view key, T value) {
        return set(key, string_view(std::to_string(value)));
    }
    /// A duration, written as exact decimal seconds ("0.25"), independent of the locale.
    template <class Rep, class Period>
    Config& set(string_view key, std::chrono::duration<Rep, Period> d) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
        std::string text = ns < 0 ? "-" : "";
        unsigned long long a = ns < 0 ? 0ULL - static_cast<unsigned long long>(ns)
                                      : static_cast<unsigned long long>(ns);
        text += std::to_string(a / 1000000000ULL);
        unsigned long long frac = a % 1000000000ULL;
        if (frac) {
            std::string f = std::to_string(frac);
            f.insert(0, 9 - f.size(), '0');
            while (!f.empty() && f.back() == '0') f.pop_back();
            text += "." + f;
        }
        return set(key, string_view(text));
    }

    /// The value of `key` as set() takes it ("" = none); secrets come back as "***"
    /// (pwa_config_get). Throws Error for an unknown key.
    std::string value(string_view key) const {
        std::string k = detail::c_string(key, "configuration key");
        std::size_t needed = 0;
        pwa_status s = pwa_config_get(cfg_, k.c_str(), nullptr, 0, &needed);
        if (s != PWA_ERR_BUFFER_TOO_SMALL) detail::check(s);
        std::string out(needed, '\0');
        detail::check(pwa_config_get(cfg_, k.c_str(), &out[0], out.size(), &needed));
        out.resize(needed - 1);
        return out;
    }

    const pwa_config* get() const noexcept { return cfg_; }
    pwa_config* get() noexcept { return cfg_; }
    /// Give up ownership (free it with pwa_config_free).
    pwa_config* release() noexcept { return std::exchange(cfg_, nullptr); }

private:
    pwa_config* cfg_;
};

/// A configuration key as the library describes it (pwa_config_key); static strings.
struct KeyInfo {
    string_view name, kind, default_value, doc;
    bool is_secret;
};

/// Every configuration key with its kind, default and meaning.
inline std::vector<KeyInfo> config_keys() {
    std::vector<KeyInfo> out;
    for (std::size_t i = 0, n = pwa_config_key_count(); i < n; i++) {
        pwa_config_key_info k;
        detail::check(pwa_config_key(i, &k));
        out.push_back({k.name, k.kind, k.default_value, k.doc, k.is_secret != 0});
    }
    return out;
}

// ----------------------------------------------------------------------------------------------
// Message
// ----------------------------------------------------------------------------------------------

/// What a message is (pwa_message_info). Views are valid while the message lives.
struct MessageInfo {
    string_view parse_error;
    string_view web_exception_errors;
    std::size_t stream_count = 0;
    std::size_t value_count = 0;
    bool is_heartbeat = false;
    bool is_unparsable = false;
    bool has_web_exception = false;
    int32_t web_exception_status = 0;
    /// Recorded values a backfill fetched (gap_fill), not a live message.
    bool is_backfilled = false;
    /// The JSON is the library's rendering, not the frame as sent (a backfill, or values
    /// already delivered taken out at a seam).
    bool is_rewritten = false;
};

/// One stream of a message (pwa_stream_info). Views are valid while the message lives.
struct StreamInfo {
    string_view web_id;
    string_view name;
    string_view path;
    string_view units;
    string_view web_exception_errors;
    std::size_t first_value = 0;  // index of its first value in the flat list
    std::size_t value_count = 0;
    bool has_web_exception = false;
    int32_t web_exception_status = 0;
};

/// Nanoseconds since the Unix epoch on the system clock.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

/// One value (pwa_value; see piwebasync.h for each field). Views are valid while the message
/// lives.
struct Value {
    int64_t timestamp_ns = 0;
    double number = 0;
    int64_t integer = 0;
    string_view text;
    string_view units;
    string_view timestamp_text;
    string_view errors;
    string_view web_exception_errors;
    std::size_t stream_index = 0;
    pwa_value_kind kind = PWA_VALUE_NULL;
    bool timestamp_valid = false;
    bool good = false;
    bool questionable = false;
    bool substituted = false;
    bool annotated = false;
    bool is_system = false;
    int32_t error_count = 0;
    bool has_web_exception = false;
    int32_t web_exception_status = 0;

    /// "DOUBLE", "INT64" ... (pwa_value_kind_name).
    const char* kind_name() const noexcept { return pwa_value_kind_name(kind); }
    /// The timestamp, or nullopt when it was missing or invalid.
    optional<TimePoint> timestamp() const {
        if (!timestamp_valid) return nullopt;
        return TimePoint(std::chrono::nanoseconds(timestamp_ns));
    }
};

class Channel;
namespace detail {
struct CallbackState;
inline void on_message_trampoline(void*, pwa_channel_t, const pwa_message*) noexcept;
inline void on_set_message_trampoline(void*, pwa_subscription_t, uint32_t,
                                      const pwa_message*) noexcept;
}  // namespace detail

/// A channel message (owns a pwa_message*; move-only), or — inside a message callback — a
/// borrowed view of one that it does not free (valid only until the callback returns; copy
/// what you keep, e.g. with Message::from_json(msg.json()), which loses the URL).
/// Strings returned (json(), url(), the fields of MessageInfo / StreamInfo / Value) point into
/// the message and are valid while the underlying message lives; moving a Message keeps them
/// valid. A message may be read from any thread, by one thread at a time. Accessors throw
/// Error (PWA_ERR_INVALID_ARGUMENT) for an index out of range or an empty (moved-from) Message.
class Message {
public:
    Message() noexcept = default;
    /// Take ownership of `msg` (from pwa_channel_poll_next or pwa_message_from_json).
    explicit Message(pwa_message* msg) noexcept : msg_(msg), owned_(true) {}
    ~Message() {
        if (owned_) pwa_message_free(const_cast<pwa_message*>(msg_));
    }
    Message(Message&& o) noexcept
        : msg_(std::exchange(o.msg_, nullptr)), owned_(std::exchange(o.owned_, false)) {}
    Message& operator=(Message&& o) noexcept {
        if (this != &o) {
            if (owned_) pwa_message_free(const_cast<pwa_message*>(msg_));
            msg_ = std::exchange(o.msg_, nullptr);
            owned_ = std::exchange(o.owned_, false);
        }
        return *this;
    }
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;

    /// A message made from JSON text as if it had been received (pwa_message_from_json; its
    /// URL is ""). Anything is accepted; text that is not a channel message is unparsable.
    static Message from_json(string_view json) {
        pwa_message* m = nullptr;
        // An empty view may have a NULL data(); the library wants a pointer.
        detail::check(pwa_message_from_json(json.empty() ? "" : json.data(), json.size(), &m));
        return Message(m);
    }

    /// True when this holds a message.
    explicit operator bool() const noexcept { return msg_ != nullptr; }
    /// True when this is a borrowed view (a message given to a callback).
    bool borrowed() const noexcept { return msg_ && !owned_; }
    const pwa_message* get() const noexcept { return msg_; }
    /// Give up ownership (free it with pwa_message_free). NULL for a borrowed message.
    pwa_message* release() noexcept {
        if (!owned_) return nullptr;
        owned_ = false;
        return const_cast<pwa_message*>(std::exchange(msg_, nullptr));
    }

    /// The JSON text exactly as sent ("" for an empty Message).
    string_view json() const noexcept {
        if (!msg_) return {};
        std::size_t len = 0;
        const char* p = pwa_message_json(msg_, &len);
        return p ? string_view(p, len) : string_view();
    }
    /// The channel URL it arrived on (a password shown as ***); "" when made from JSON.
    string_view url() const noexcept { return msg_ ? detail::view(pwa_message_url(msg_)) : string_view(); }

    MessageInfo info() const {
        pwa_message_info i;
        detail::check(pwa_message_get_info(msg_, &i));
        MessageInfo r;
        r.parse_error = detail::view(i.parse_error);
        r.web_exception_errors = detail::view(i.web_exception_errors);
        r.stream_count = i.stream_count;
        r.value_count = i.value_count;
        r.is_heartbeat = i.is_heartbeat != 0;
        r.is_unparsable = i.is_unparsable != 0;
        r.has_web_exception = i.has_web_exception != 0;
        r.web_exception_status = i.web_exception_status;
        r.is_backfilled = i.is_backfilled != 0;
        r.is_rewritten = i.is_rewritten != 0;
        return r;
    }
    /// Recorded values a backfill fetched after a reconnect or an update (gap_fill).
    bool is_backfilled() const {
        int32_t v = 0;
        detail::check(pwa_message_is_backfilled(msg_, &v));
        return v != 0;
    }
    bool is_heartbeat() const {
        int32_t v = 0;
        detail::check(pwa_message_is_heartbeat(msg_, &v));
        return v != 0;
    }
    bool is_unparsable() const {
        int32_t v = 0;
        detail::check(pwa_message_is_unparsable(msg_, &v));
        return v != 0;
    }
    std::size_t stream_count() const {
        std::size_t n = 0;
        detail::check(pwa_message_stream_count(msg_, &n));
        return n;
    }
    std::size_t value_count() const {
        std::size_t n = 0;
        detail::check(pwa_message_value_count(msg_, &n));
        return n;
    }
    /// Stream `i` (0 .. stream_count() - 1).
    StreamInfo stream(std::size_t i) const {
        pwa_stream_info s;
        detail::check(pwa_message_stream(msg_, i, &s));
        StreamInfo r;
        r.web_id = detail::view(s.web_id);
        r.name = detail::view(s.name);
        r.path = detail::view(s.path);
        r.units = detail::view(s.units);
        r.web_exception_errors = detail::view(s.web_exception_errors);
        r.first_value = s.first_value;
        r.value_count = s.value_count;
        r.has_web_exception = s.has_web_exception != 0;
        r.web_exception_status = s.web_exception_status;
        return r;
    }
    /// Value `k` of the flat list of all values (0 .. value_count() - 1).
    Value value(std::size_t k) const {
        pwa_value v;
        detail::check(pwa_message_value(msg_, k, &v));
        return convert(v);
    }
    /// Calls f(const Value&) for every value, in order (stream 0's values, then stream 1's...).
    template <class F>
    void for_each_value(F&& f) const {
        const std::size_t n = value_count();
        for (std::size_t k = 0; k < n; ++k) {
            const Value v = value(k);
            f(v);
        }
    }
    /// All values, in order.
    std::vector<Value> values() const {
        std::vector<Value> out;
        out.reserve(value_count());
        for_each_value([&out](const Value& v) { out.push_back(v); });
        return out;
    }
    /// All streams, in order.
    std::vector<StreamInfo> streams() const {
        std::vector<StreamInfo> out;
        const std::size_t n = stream_count();
        out.reserve(n);
        for (std::size_t i = 0; i < n; ++i) out.push_back(stream(i));
        return out;
    }

private:
    friend void detail::on_message_trampoline(void*, pwa_channel_t, const pwa_message*) noexcept;
    friend void detail::on_set_message_trampoline(void*, pwa_subscription_t, uint32_t,
                                                  const pwa_message*) noexcept;
    struct borrow_t {};
    // A borrowed view: never freed.
    Message(const pwa_message* msg, borrow_t) noexcept : msg_(msg), owned_(false) {}

    static Value convert(const pwa_value& v) {
        Value r;
        r.timestamp_ns = v.timestamp_ns;
        r.number = v.number;
        r.integer = v.integer;
        r.text = detail::view(v.text);
        r.units = detail::view(v.units);
        r.timestamp_text = detail::view(v.timestamp_text);
        r.errors = detail::view(v.errors);
        r.web_exception_errors = detail::view(v.web_exception_errors);
        r.stream_index = v.stream_index;
        r.kind = v.kind;
        r.timestamp_valid = v.timestamp_valid != 0;
        r.good = v.good != 0;
        r.questionable = v.questionable != 0;
        r.substituted = v.substituted != 0;
        r.annotated = v.annotated != 0;
        r.is_system = v.is_system != 0;
        r.error_count = v.error_count;
        r.has_web_exception = v.has_web_exception != 0;
        r.web_exception_status = v.web_exception_status;
        return r;
    }

    const pwa_message* msg_ = nullptr;
    bool owned_ = false;
};

// ----------------------------------------------------------------------------------------------
// Callbacks (internal)
// ----------------------------------------------------------------------------------------------

namespace detail {

// Owned by a Channel (heap, stable address: it is the user_data of the C callbacks). It is
// destroyed only after pwa_channel_free returned, after which no callback of the channel runs.
struct CallbackState {
    std::function<void(const Message&)> on_message;
    std::function<void(const pwa_state_event&)> on_state;
    std::atomic<uint64_t> exceptions{0};
    std::mutex lock;
    std::string last_exception;

    // Never throws: it runs inside a catch block at the C boundary.
    void record(const char* what) noexcept {
        exceptions.fetch_add(1, std::memory_order_relaxed);
        try {
            std::lock_guard<std::mutex> g(lock);
            last_exception = what ? what : "";
        } catch (...) {
            // Out of memory (or a broken mutex) while recording: the count above still says
            // that an exception was swallowed; losing its text is acceptable.
        }
    }
};

// The C library calls these on the channel's callback thread. An exception must never unwind
// into the C (Rust) library: every exception of the user's function is caught here and
// recorded (Channel::callback_exceptions / last_callback_exception); the channel goes on.
inline void on_message_trampoline(void* user, pwa_channel_t, const pwa_message* msg) noexcept {
    auto* st = static_cast<CallbackState*>(user);
    try {
        const Message view(msg, Message::borrow_t{});  // borrowed: its destructor frees nothing
        st->on_message(view);
    } catch (const std::exception& e) {
        st->record(e.what());
    } catch (...) {
        st->record("unknown exception (not derived from std::exception)");
    }
}

inline void on_state_trampoline(void* user, pwa_channel_t, const pwa_state_event* ev) noexcept {
    auto* st = static_cast<CallbackState*>(user);
    try {
        st->on_state(*ev);
    } catch (const std::exception& e) {
        st->record(e.what());
    } catch (...) {
        st->record("unknown exception (not derived from std::exception)");
    }
}

}  // namespace detail

// ----------------------------------------------------------------------------------------------
// Channel
// ----------------------------------------------------------------------------------------------

/// The result of Channel::poll: `status` PWA_OK with `message` set; PWA_TIMEOUT; or the
/// channel's terminal status (returned again on every later poll once the buffer is drained).
struct PollResult {
    pwa_status status = PWA_TIMEOUT;
    optional<Message> message;

    bool ok() const noexcept { return status == PWA_OK; }
    explicit operator bool() const noexcept { return ok(); }
    bool timed_out() const noexcept { return status == PWA_TIMEOUT; }
    bool terminal() const noexcept { return is_terminal(status); }
};

/// Wait without limit (poll, shutdown).
PIWEBASYNC_HPP_INLINE_VAR constexpr std::chrono::milliseconds forever{-1};

/// A PI Web API channel (owns a pwa_channel_t; move-only). The destructor calls
/// pwa_channel_free: buffered messages are discarded, the channel is closed (waiting at most
/// close_timeout + 1 s), its CLOSED state callback runs, and a callback running in another
/// thread is waited for; after it, no callback of the channel runs. Destroying a Channel inside
/// one of the library's callbacks cannot free it there (PWA_ERR_RECURSIVE_CALL): the channel
/// is then closed and freed by a short-lived helper thread once the callback returned.
///
/// Threading: all methods may be called from any thread; one thread at a time may poll (or
/// update) a channel. open, poll (with a timeout), update and the destructor block; close does
/// not. Do not move, assign or destroy the Channel object while another thread uses it.
class Channel {
public:
    using MessageCallback = std::function<void(const Message&)>;
    using StateCallback = std::function<void(const pwa_state_event&)>;

    /// An empty channel (no handle).
    Channel() noexcept = default;
    ~Channel() { reset(); }
    Channel(Channel&& o) noexcept : h_(std::exchange(o.h_, 0)), cb_(std::move(o.cb_)) {}
    Channel& operator=(Channel&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, 0);
            cb_ = std::move(o.cb_);
        }
        return *this;
    }
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    /// Open a poll-mode channel to `url`, blocking until its first connection is up. `cfg`
    /// may be NULL (defaults). Throws Error (PWA_ERR_CONNECT, PWA_ERR_AUTH,
    /// PWA_ERR_OPEN_TIMEOUT, ...) with the library's message.
    static Channel open(string_view url, const Config* cfg = nullptr) {
        return open_impl(url, cfg, nullptr);
    }
    static Channel open(string_view url, const Config& cfg) { return open(url, &cfg); }

    /// Open a channel whose messages go to `on_message` and state events to `on_state`, both
    /// called on the channel's callback thread, one at a time, in order. Either may be empty:
    /// an empty `on_message` leaves the channel in poll mode; an empty `on_state` asks for no
    /// state events. The message given to `on_message` is borrowed (valid only during the
    /// call); the event and its strings likewise. PWA_EVENT_CLOSED is delivered exactly once
    /// and last. An exception thrown by either function is caught at the C boundary and
    /// counted (callback_exceptions()); the channel goes on. The functions are stored on the
    /// heap and destroyed only after the channel was freed (no callback runs any more).
    static Channel open_with_callbacks(string_view url, const Config* cfg,
                                       MessageCallback on_message, StateCallback on_state = {}) {
        auto st = std::make_unique<detail::CallbackState>();
        st->on_message = std::move(on_message);
        st->on_state = std::move(on_state);
        pwa_callbacks cbs;
        cbs.on_message = st->on_message ? &detail::on_message_trampoline : nullptr;
        cbs.on_state = st->on_state ? &detail::on_state_trampoline : nullptr;
        cbs.user_data = st.get();
        // On failure no callback runs, so `st` may be destroyed with the exception.
        Channel ch = open_impl(url, cfg, &cbs);
        ch.cb_ = std::move(st);
        return ch;
    }

    /// Take the next message: buffered messages first (also after the channel closed), then
    /// the terminal status on every later call. `timeout`: 0 returns at once, negative
    /// (`forever`) waits without limit. Timeouts and terminal statuses are returned; misuse
    /// (a freed or empty channel, another thread polling: PWA_ERR_BUSY, a callback channel,
    /// a blocking poll inside a callback) throws Error.
    PollResult poll(std::chrono::milliseconds timeout = forever) {
        pwa_message* m = nullptr;
        pwa_status s = pwa_channel_poll_next(h_, detail::clamp_timeout(timeout), &m);
        PollResult r;
        r.status = s;
        if (s == PWA_OK) {
            r.message.emplace(m);
        } else if (detail::is_misuse(s)) {
            detail::fail_channel(s, h_);
        }
        return r;
    }

    /// Switch the channel to `url`, make-before-break (blocks; at most open_timeout +
    /// close_timeout). Returns PWA_OK; PWA_ROLLED_BACK (failed, `rollback` true: the channel
    /// goes on at its previous endpoint); PWA_UPDATE_FAILED (failed, `rollback` false: the
    /// channel closes); or the channel's terminal status if it had already ended. Throws
    /// Error for a malformed URL, PWA_ERR_BUSY, an invalid handle, or inside a callback.
    pwa_status update(string_view url, bool rollback = true) {
        std::string u = detail::c_string(url, "URL");
        pwa_status s = pwa_channel_update(h_, u.c_str(), rollback ? 1 : 0);
        if (detail::is_misuse(s)) detail::fail_channel(s, h_);
        return s;
    }

    /// Hold back (true) or resume (false) the channel's callbacks, for a callback whose
    /// consumer is full: pause and return instead of blocking (with callback_thread=shared a
    /// blocking callback stalls every channel on that thread). Nothing is dropped: the queue
    /// fills, then the socket is not read. Works inside callbacks. Throws for an invalid handle.
    void pause_delivery(bool paused) {
        pwa_status s = pwa_channel_pause_delivery(h_, paused ? 1 : 0);
        if (s != PWA_OK) detail::fail_channel(s, h_);
    }

    /// Ask for a graceful close; returns at once (idempotent). Buffered messages can still
    /// be polled, then PWA_CLOSED. Works inside callbacks. Throws for an invalid handle.
    void close() {
        pwa_status s = pwa_channel_close(h_);
        if (s != PWA_OK) detail::fail_channel(s, h_);
    }

    /// What the channel is doing (PWA_STATE_*).
    pwa_state state() const {
        pwa_state st = 0;
        pwa_status s = pwa_channel_state(h_, &st);
        if (s != PWA_OK) detail::fail_channel(s, h_);
        return st;
    }

    /// How the channel ended (its terminal status) as soon as it has — also while buffered
    /// messages are still to be polled, and in callback mode — or PWA_OK while it runs.
    pwa_status outcome() const {
        pwa_status out = PWA_OK;
        pwa_status s = pwa_channel_outcome(h_, &out);
        if (s != PWA_OK) detail::fail_channel(s, h_);
        return out;
    }

    /// The channel's counters.
    pwa_stats stats() const {
        pwa_stats st;
        std::memset(&st, 0, sizeof st);
        pwa_status s = pwa_channel_stats(h_, &st);
        if (s != PWA_OK) detail::fail_channel(s, h_);
        return st;
    }

    /// The channel's last error: the cause of its terminal status, or the last connection
    /// error while reconnecting ("" when none).
    std::string last_error() const { return channel_last_error(h_); }

    /// Replace the bearer token (auth=bearer) / Basic password (auth=basic) for the next
    /// connection. Throws Error on refusal.
    void set_bearer_token(string_view token) {
        std::string t = detail::c_string(token, "token");
        pwa_status s = pwa_channel_set_bearer_token(h_, t.c_str());
        std::fill(t.begin(), t.end(), '\0');  // best effort: do not leave a copy around
        if (s != PWA_OK) detail::fail_channel(s, h_);
    }
    void set_password(string_view password) {
        std::string p = detail::c_string(password, "password");
        pwa_status s = pwa_channel_set_password(h_, p.c_str());
        std::fill(p.begin(), p.end(), '\0');
        if (s != PWA_OK) detail::fail_channel(s, h_);
    }

    /// Exceptions thrown by this channel's callbacks and swallowed at the C boundary.
    uint64_t callback_exceptions() const noexcept {
        return cb_ ? cb_->exceptions.load(std::memory_order_relaxed) : 0;
    }
    /// what() of the last of them ("" when none).
    std::string last_callback_exception() const {
        if (!cb_) return std::string();
        std::lock_guard<std::mutex> g(cb_->lock);
        return cb_->last_exception;
    }

    pwa_channel_t handle() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != 0; }

    /// Free the channel now (as the destructor does); the Channel becomes empty.
    void reset() noexcept {
        if (h_ == 0) {
            cb_.reset();
            return;
        }
        const pwa_channel_t h = std::exchange(h_, 0);
        std::unique_ptr<detail::CallbackState> st = std::move(cb_);
        if (pwa_channel_free(h) != PWA_ERR_RECURSIVE_CALL) return;  // freed (st dies with it)
        // Inside a callback of this library: the channel cannot be freed here, and its
        // callback state must outlive it. Close it now; free it (then destroy the state)
        // from a helper thread, which pwa_channel_free makes wait for this callback to end.
        pwa_channel_close(h);
        detail::CallbackState* raw = st.release();
        try {
            std::thread([h, raw] {
                pwa_channel_free(h);
                delete raw;
            }).detach();
        } catch (...) {
            // No thread could be started: leak the channel and its callback state rather than
            // destroy functions the library may still call. The channel is closed.
        }
    }

private:
    static Channel open_impl(string_view url, const Config* cfg, const pwa_callbacks* cbs) {
        std::string u = detail::c_string(url, "URL");
        pwa_channel_t h = 0;
        pwa_status s = pwa_channel_open(u.c_str(), cfg ? cfg->get() : nullptr, cbs, &h);
        if (s != PWA_OK) detail::fail(s);
        Channel ch;
        ch.h_ = h;
        return ch;
    }

    pwa_channel_t h_ = 0;
    std::unique_ptr<detail::CallbackState> cb_;
};

// ----------------------------------------------------------------------------------------------
// Library-wide calls
// ----------------------------------------------------------------------------------------------

/// Close every channel, wait up to `timeout` (negative: 10 s) for them to end and for their
/// CLOSED callbacks, and stop the library's runtime (pwa_shutdown). Channels must still be
/// destroyed afterwards. Returns the status (PWA_OK); throws Error(PWA_ERR_RECURSIVE_CALL)
/// inside a callback.
inline pwa_status shutdown(std::chrono::milliseconds timeout = forever) {
    pwa_status s = pwa_shutdown(detail::clamp_timeout(timeout));
    if (detail::is_misuse(s)) detail::fail(s);
    return s;
}

/// Set the number of worker threads of the runtime; only before the first open.
inline void runtime_configure(uint32_t worker_threads) {
    detail::check(pwa_runtime_configure(worker_threads));
}

// ----------------------------------------------------------------------------------------------
// URL builders (pwa_url_*)
// ----------------------------------------------------------------------------------------------

/// Query parameters of a channel URL (pwa_url_options). Empty strings / false / 0 leave a
/// parameter out (the server's default applies).
struct UrlOptions {
    std::string name_filter;    // stream-set channels only
    std::string category_name;  // stream-set channels only
    std::string template_name;  // stream-set channels only
    bool include_initial_values = false;
    int32_t heartbeat_rate = 0;
    pwa_webid_type web_id_type = PWA_WEBID_TYPE_DEFAULT;
    bool search_full_hierarchy = false;  // stream-set channels only
    bool show_excluded = false;          // stream-set channels only
    bool show_hidden = false;            // stream-set channels only
};

namespace detail {

struct CUrlOptions {
    std::string nf, cn, tn;
    pwa_url_options o;
    explicit CUrlOptions(const UrlOptions& u)
        : nf(c_string(u.name_filter, "name_filter")),
          cn(c_string(u.category_name, "category_name")),
          tn(c_string(u.template_name, "template_name")) {
        std::memset(&o, 0, sizeof o);
        o.name_filter = nf.c_str();
        o.category_name = cn.c_str();
        o.template_name = tn.c_str();
        o.include_initial_values = u.include_initial_values ? 1 : 0;
        o.heartbeat_rate = u.heartbeat_rate;
        o.web_id_type = u.web_id_type;
        o.search_full_hierarchy = u.search_full_hierarchy ? 1 : 0;
        o.show_excluded = u.show_excluded ? 1 : 0;
        o.show_hidden = u.show_hidden ? 1 : 0;
    }
};

// Calls f(buf, cap, &needed) once to ask for the size, then with a buffer of that size.
template <class F>
std::string build_url(F&& f) {
    std::size_t needed = 0;
    pwa_status s = f(nullptr, 0, &needed);
    if (s != PWA_OK && s != PWA_ERR_BUFFER_TOO_SMALL) fail(s);
    std::string out(needed ? needed : 1, '\0');
    check(f(&out[0], out.size(), &needed));
    out.resize(std::strlen(out.c_str()));
    return out;
}

inline std::string join_ids(const std::vector<std::string>& ids) {
    std::string all;
    for (const auto& id : ids) {
        if (!all.empty()) all += ',';
        all += id;
    }
    return all;
}

}  // namespace detail

/// `{base}/streams/{webId}/channel?...` (pwa_url_stream). Throws Error(PWA_ERR_INVALID_ARGUMENT)
/// for a bad base, WebId or option, with the library's reason.
inline std::string stream_url(string_view base, string_view web_id,
                              const UrlOptions& opts = UrlOptions()) {
    const std::string b = detail::c_string(base, "base"), w = detail::c_string(web_id, "WebId");
    const detail::CUrlOptions o(opts);
    return detail::build_url([&](char* buf, std::size_t cap, std::size_t* n) {
        return pwa_url_stream(b.c_str(), w.c_str(), &o.o, buf, cap, n);
    });
}

/// `{base}/streamsets/{webId}/channel?...` (pwa_url_streamset).
inline std::string streamset_url(string_view base, string_view web_id,
                                 const UrlOptions& opts = UrlOptions()) {
    const std::string b = detail::c_string(base, "base"), w = detail::c_string(web_id, "WebId");
    const detail::CUrlOptions o(opts);
    return detail::build_url([&](char* buf, std::size_t cap, std::size_t* n) {
        return pwa_url_streamset(b.c_str(), w.c_str(), &o.o, buf, cap, n);
    });
}

/// One ad hoc URL `{base}/streamsets/channel?webId=A&webId=B...` (pwa_url_adhoc).
inline std::string adhoc_url(string_view base, const std::vector<std::string>& web_ids,
                             const UrlOptions& opts = UrlOptions()) {
    const std::string b = detail::c_string(base, "base");
    const std::string ids = detail::c_string(detail::join_ids(web_ids), "WebIds");
    const detail::CUrlOptions o(opts);
    return detail::build_url([&](char* buf, std::size_t cap, std::size_t* n) {
        return pwa_url_adhoc(b.c_str(), ids.c_str(), &o.o, buf, cap, n);
    });
}

/// As few ad hoc URLs as needed so that each is at most `max_url_len` bytes (0: 4096); every
/// WebId exactly once, in order (pwa_url_adhoc_split). Open one channel per URL.
inline std::vector<std::string> adhoc_urls(string_view base,
                                           const std::vector<std::string>& web_ids,
                                           const UrlOptions& opts = UrlOptions(),
                                           std::size_t max_url_len = 0) {
    const std::string b = detail::c_string(base, "base");
    const std::string ids = detail::c_string(detail::join_ids(web_ids), "WebIds");
    const detail::CUrlOptions o(opts);
    const std::string all = detail::build_url([&](char* buf, std::size_t cap, std::size_t* n) {
        return pwa_url_adhoc_split(b.c_str(), ids.c_str(), &o.o, max_url_len, buf, cap, n,
                                   nullptr);
    });
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= all.size()) {
        std::size_t nl = all.find('\n', start);
        if (nl == std::string::npos) nl = all.size();
        out.push_back(all.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

// ----------------------------------------------------------------------------------------------
// Subscription sets (pwa_subscription_*)
// ----------------------------------------------------------------------------------------------

/// A WebId the server refused, and why (its answer).
struct Rejected {
    std::string web_id;
    std::string reason;
};

/// The result of Subscription::poll: as PollResult, plus the shard the message came from.
struct SetPollResult {
    pwa_status status = PWA_TIMEOUT;
    uint32_t shard = 0;
    optional<Message> message;

    bool ok() const noexcept { return status == PWA_OK; }
    explicit operator bool() const noexcept { return ok(); }
    bool timed_out() const noexcept { return status == PWA_TIMEOUT; }
    bool terminal() const noexcept { return is_terminal(status); }
};

namespace detail {

struct SetCallbackState {
    std::function<void(uint32_t, const Message&)> on_message;
    std::function<void(const pwa_subscription_event&)> on_state;
    std::atomic<uint64_t> exceptions{0};
};

inline void on_set_message_trampoline(void* user, pwa_subscription_t, uint32_t shard,
                                      const pwa_message* msg) noexcept {
    auto* st = static_cast<SetCallbackState*>(user);
    try {
        const Message view(msg, Message::borrow_t{});
        st->on_message(shard, view);
    } catch (...) {
        st->exceptions.fetch_add(1, std::memory_order_relaxed);
    }
}

inline void on_set_state_trampoline(void* user, pwa_subscription_t,
                                    const pwa_subscription_event* ev) noexcept {
    auto* st = static_cast<SetCallbackState*>(user);
    try {
        st->on_state(*ev);
    } catch (...) {
        st->exceptions.fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace detail

/// A subscription set (owns a pwa_subscription_t; move-only): any number of WebIds through one
/// handle, sharded over ad hoc channels by the library (see pwa_subscription_open). The
/// destructor calls pwa_subscription_free. Do not destroy it inside one of its callbacks.
class Subscription {
public:
    using MessageCallback = std::function<void(uint32_t shard, const Message&)>;
    using StateCallback = std::function<void(const pwa_subscription_event&)>;

    Subscription() noexcept = default;
    ~Subscription() { reset(); }
    Subscription(Subscription&& o) noexcept : h_(std::exchange(o.h_, 0)), cb_(std::move(o.cb_)) {}
    Subscription& operator=(Subscription&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, 0);
            cb_ = std::move(o.cb_);
        }
        return *this;
    }
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    /// Open a set on the API root `base` (nothing connects until add). Throws Error.
    static Subscription open(string_view base, const Config* cfg = nullptr,
                             const UrlOptions& opts = UrlOptions(), MessageCallback on_message = {},
                             StateCallback on_state = {}) {
        const std::string b = detail::c_string(base, "base URL");
        const detail::CUrlOptions o(opts);
        std::unique_ptr<detail::SetCallbackState> st;
        pwa_subscription_callbacks cbs;
        std::memset(&cbs, 0, sizeof cbs);
        if (on_message || on_state) {
            st.reset(new detail::SetCallbackState());
            st->on_message = std::move(on_message);
            st->on_state = std::move(on_state);
            cbs.on_message = st->on_message ? &detail::on_set_message_trampoline : nullptr;
            cbs.on_state = st->on_state ? &detail::on_set_state_trampoline : nullptr;
            cbs.user_data = st.get();
        }
        pwa_subscription_t h = 0;
        pwa_status s = pwa_subscription_open(b.c_str(), cfg ? cfg->get() : nullptr, &o.o,
                                             st ? &cbs : nullptr, &h);
        if (s != PWA_OK) detail::fail(s);
        Subscription out;
        out.h_ = h;
        out.cb_ = std::move(st);
        return out;
    }

    /// Subscribe `web_ids` (duplicates ignored). Throws Error (PWA_ERR_LIMIT,
    /// PWA_ERR_INVALID_ARGUMENT: nothing added; ...).
    pwa_subscription_add_report add(const std::vector<std::string>& web_ids) {
        std::vector<const char*> p = pointers(web_ids);
        pwa_subscription_add_report r;
        std::memset(&r, 0, sizeof r);
        detail::check(pwa_subscription_add(h_, p.data(), p.size(), &r));
        return r;
    }

    /// Unsubscribe `web_ids`; returns how many were members.
    std::size_t remove(const std::vector<std::string>& web_ids) {
        std::vector<const char*> p = pointers(web_ids);
        std::size_t n = 0;
        detail::check(pwa_subscription_remove(h_, p.data(), p.size(), &n));
        return n;
    }

    /// The next message of any shard (timeouts and the terminal status are returned).
    SetPollResult poll(std::chrono::milliseconds timeout = forever) {
        pwa_message* m = nullptr;
        SetPollResult r;
        r.status = pwa_subscription_poll_next(h_, detail::clamp_timeout(timeout), &m, &r.shard);
        if (r.status == PWA_OK) {
            r.message.emplace(m);
        } else if (detail::is_misuse(r.status)) {
            detail::fail(r.status);
        }
        return r;
    }

    void close() { detail::check(pwa_subscription_close(h_)); }

    pwa_set_stats stats() const {
        pwa_set_stats st;
        std::memset(&st, 0, sizeof st);
        detail::check(pwa_subscription_stats(h_, &st));
        return st;
    }

    std::vector<pwa_shard_stats> shard_stats() const {
        std::vector<pwa_shard_stats> out;
        for (std::size_t i = 0, n = stats().shards; i < n; ++i) {
            pwa_shard_stats s;
            if (pwa_subscription_shard_stats(h_, i, &s) != PWA_OK) break;  // the set changed
            out.push_back(s);
        }
        return out;
    }

    std::vector<Rejected> rejected() const {
        std::vector<Rejected> out;
        for (std::size_t i = 0, n = stats().rejected; i < n; ++i) {
            std::size_t wn = 0, rn = 0;
            pwa_subscription_rejected(h_, i, nullptr, 0, &wn, nullptr, 0, &rn);
            std::string w(wn ? wn : 1, '\0'), r(rn ? rn : 1, '\0');
            detail::check(pwa_subscription_rejected(h_, i, &w[0], w.size(), nullptr, &r[0],
                                                    r.size(), nullptr));
            w.resize(std::strlen(w.c_str()));
            r.resize(std::strlen(r.c_str()));
            out.push_back(Rejected{w, r});
        }
        return out;
    }

    uint64_t callback_exceptions() const noexcept {
        return cb_ ? cb_->exceptions.load(std::memory_order_relaxed) : 0;
    }
    pwa_subscription_t handle() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != 0; }

    /// Free the set now (as the destructor does).
    void reset() noexcept {
        if (h_ != 0) pwa_subscription_free(std::exchange(h_, 0));
        cb_.reset();
    }

private:
    static std::vector<const char*> pointers(const std::vector<std::string>& ids) {
        std::vector<const char*> p;
        p.reserve(ids.size());
        for (const auto& id : ids) {
            if (id.find('\0') != std::string::npos)
                throw Error(PWA_ERR_INVALID_ARGUMENT, "a WebId contains a NUL character");
            p.push_back(id.c_str());
        }
        return p;
    }

    pwa_subscription_t h_ = 0;
    std::unique_ptr<detail::SetCallbackState> cb_;
};

}  // namespace piwebasync

#endif  // PIWEBASYNC_HPP
