// Tests of the C++ wrapper bindings/cpp/piwebasync.hpp against the real simulator.
//
// Usage: test_cpp_binding [URL_A [URL_B [BASE_A]]]
//   URL_A   an ad hoc channel URL of simulator A (default: $SIM_ADHOC)
//   URL_B   an ad hoc channel URL of a second simulator B (default: $SIM2_ADHOC)
//   BASE_A  the API root of simulator A, ws://HOST:PORT/piwebapi (default: $SIM_BASE)
// scripts/test-cpp.sh starts the simulators (with --interval-ms 20) and passes these.
//
// No framework: CHECK prints file:line and exits 1 at the first failure. Callbacks never
// CHECK (they run on the library's threads): they count what they saw, and the main thread
// checks the counts.
#include "piwebasync.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace pwa = piwebasync;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                             \
        }                                                                             \
    } while (0)

// Runs `expr`, which must throw pwa::Error with status `st`; the error is kept in g_err.
static std::string g_err;
#define CHECK_THROWS(expr, st)                                                                \
    do {                                                                                      \
        bool thrown_ = false;                                                                 \
        try {                                                                                 \
            (void)(expr);                                                                     \
        } catch (const pwa::Error& e_) {                                                      \
            thrown_ = true;                                                                   \
            g_err = e_.what();                                                                \
            if (e_.status() != (st)) {                                                        \
                std::fprintf(stderr, "%s:%d: %s threw %s, expected %s\n", __FILE__, __LINE__, \
                             #expr, e_.what(), pwa_status_name(st));                          \
                std::exit(1);                                                                 \
            }                                                                                 \
        }                                                                                     \
        if (!thrown_) {                                                                       \
            std::fprintf(stderr, "%s:%d: %s did not throw %s\n", __FILE__, __LINE__, #expr,   \
                         pwa_status_name(st));                                                \
            std::exit(1);                                                                     \
        }                                                                                     \
    } while (0)

static std::string URL_A, URL_B, BASE_A, ARCHIVE_ADHOC, ARCHIVE_BASE;

static bool contains(std::string_view hay, std::string_view needle) {
    return hay.find(needle) != std::string_view::npos;
}

// Waits up to `limit` for pred() to hold.
template <class P>
static bool wait_for(P pred, std::chrono::milliseconds limit = 20s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

// A message, waiting long enough for valgrind.
static pwa::Message next(pwa::Channel& ch) {
    pwa::PollResult r = ch.poll(10s);
    if (!r.ok()) std::fprintf(stderr, "poll: %s (%s)\n", pwa_status_name(r.status), ch.last_error().c_str());
    CHECK(r.ok());
    CHECK(r.message.has_value() && bool(*r.message));
    return std::move(*r.message);
}

// A ws:// URL of a local port on which nothing listens (bound, then released).
static std::string dead_url() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    CHECK(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    int port = ntohs(a.sin_port);
    close(fd);
    return "ws://127.0.0.1:" + std::to_string(port) + "/piwebapi/streams/F1DPdead/channel";
}

// ---------------------------------------------------------------------------------------------

// Open, poll N messages, read every value with its type.
static void poll_typed_values() {
    const std::string url = URL_A + "&includeInitialValues=true";
    pwa::Channel ch = pwa::Channel::open(url);
    CHECK(bool(ch) && ch.handle() != 0);
    CHECK(ch.state() == PWA_STATE_OPEN);
    const std::set<std::string_view> names = {"SINUSOID",    "CDT158",     "BA:TEMP.1", "BA:ACTIVE.1",
                                              "BA:PHASE.1", "BA:COUNT.1", "BA:CONC.1"};
    std::set<pwa_value_kind> kinds;
    int64_t last_count = -1;
    const int N = 10;
    for (int i = 0; i < N; i++) {
        pwa::Message m = next(ch);
        CHECK(!m.borrowed());
        CHECK(m.url() == url);
        CHECK(m.json().size() > 2 && m.json().front() == '{' && m.json().back() == '}');
        const pwa::MessageInfo info = m.info();
        CHECK(!info.is_unparsable && !info.is_heartbeat && info.parse_error.empty());
        CHECK(info.stream_count == 7 && m.stream_count() == 7);
        CHECK(info.value_count == m.value_count() && info.value_count >= 7);
        const std::vector<pwa::Value> vals = m.values();
        CHECK(vals.size() == info.value_count);
        std::size_t visited = 0;
        m.for_each_value([&](const pwa::Value& v) {
            CHECK(v.text.data() == vals[visited].text.data());  // the same strings, not copies
            CHECK(v.kind == vals[visited].kind);
            visited++;
        });
        CHECK(visited == vals.size());
        for (std::size_t k = 0; k < vals.size(); k++) {
            const pwa::Value& v = vals[k];
            const pwa::StreamInfo s = m.stream(v.stream_index);
            CHECK(names.count(s.name) == 1);
            CHECK(k >= s.first_value && k < s.first_value + s.value_count);
            CHECK(contains(s.path, s.name) && !s.web_id.empty());
            CHECK(v.timestamp_valid && v.timestamp().has_value() && !v.timestamp_text.empty());
            CHECK(v.timestamp()->time_since_epoch().count() == v.timestamp_ns);
            CHECK(v.timestamp_ns > 1600000000LL * 1000000000LL);  // after 2020
            kinds.insert(v.kind);
            if (s.name == "SINUSOID") {
                CHECK(v.kind == PWA_VALUE_DOUBLE && v.good && std::string(v.kind_name()) == "DOUBLE");
                CHECK(v.number > 0 && v.number < 200);
            } else if (s.name == "CDT158") {
                CHECK(v.kind == PWA_VALUE_DOUBLE && v.units == "\xc2\xb0" "C" && s.units == v.units);
            } else if (s.name == "BA:COUNT.1") {
                CHECK(v.kind == PWA_VALUE_INT64 && v.units == "count");
                CHECK(v.number == static_cast<double>(v.integer) && v.text == std::to_string(v.integer));
                CHECK(v.integer > last_count);  // counts up message by message
                last_count = v.integer;
            } else if (s.name == "BA:ACTIVE.1") {
                CHECK(v.kind == PWA_VALUE_DIGITAL);
                CHECK(v.text == "Active" || v.text == "Inactive" || v.text == "Shutdown");
                CHECK((v.text == "Active") == (v.integer == 1));
            } else if (s.name == "BA:PHASE.1") {
                CHECK(v.kind == PWA_VALUE_STRING && !v.text.empty());
            }
        }
        // Out of range: an Error with the library's message.
        CHECK_THROWS(m.value(info.value_count), PWA_ERR_INVALID_ARGUMENT);
        CHECK(contains(g_err, "out of range"));
        CHECK_THROWS(m.stream(7), PWA_ERR_INVALID_ARGUMENT);
        CHECK(contains(g_err, "stream index 7"));
    }
    CHECK(kinds.count(PWA_VALUE_DOUBLE) && kinds.count(PWA_VALUE_INT64) &&
          kinds.count(PWA_VALUE_DIGITAL) && kinds.count(PWA_VALUE_STRING));
    CHECK(last_count >= 0);
    const pwa_stats st = ch.stats();
    CHECK(st.messages >= static_cast<uint64_t>(N) && st.bytes > 0 && st.last_message_unix_ns > 0);
    // A timeout is a value, not an exception (poll(0) may or may not find a message).
    pwa::PollResult r = ch.poll(0ms);
    CHECK(r.ok() || r.timed_out());
    CHECK(r.ok() == r.message.has_value() && !r.terminal());
    std::printf("  poll: %d messages, %zu value kinds, BA:COUNT.1 at %lld\n", N, kinds.size(),
                static_cast<long long>(last_count));
}

// Messages made from JSON text; heartbeats and unparsable text.
static void message_from_json() {
    pwa::Message hb = pwa::Message::from_json("{}");
    CHECK(hb.is_heartbeat() && !hb.is_unparsable() && hb.url().empty() && hb.json() == "{}");
    pwa::Message bad = pwa::Message::from_json("not json");
    CHECK(bad.is_unparsable() && !bad.info().parse_error.empty() && bad.values().empty());
    pwa::Message one = pwa::Message::from_json(
        R"({"Items":[{"WebId":"F1DPx","Name":"P","Items":[{"Timestamp":"2022-12-09T14:06:38Z","Value":42}]}]})");
    CHECK(one.value_count() == 1 && one.value(0).kind == PWA_VALUE_INT64 && one.value(0).integer == 42);
    CHECK(one.stream(0).name == "P" && one.stream(0).web_id == "F1DPx");
    CHECK(one.value(0).timestamp_ns == 1670594798000000000LL);
}

// Config: an unknown key and a bad value throw Error naming the key.
static void config_errors() {
    pwa::Config cfg;
    cfg.set("open_timeout", "2").set("reconnect", false).set("max_queue", 64).set("ping_interval", 500ms);
    CHECK_THROWS(cfg.set("no_such_key_xyz", "1"), PWA_ERR_INVALID_ARGUMENT);
    CHECK(contains(g_err, "no_such_key_xyz"));
    CHECK(cfg.value("ping_interval") == "0.5" && cfg.value("max_queue") == "64");
    cfg.set("password", "hunter2");
    CHECK(cfg.value("password") == "***");
    cfg.set("password", "");
    CHECK_THROWS(cfg.value("no_such_key_xyz"), PWA_ERR_INVALID_ARGUMENT);
    pwa::Config fresh;
    int keys_checked = 0;
    for (const pwa::KeyInfo& k : pwa::config_keys()) {
        if (k.name.substr(0, 7) == "header.") continue;
        CHECK(fresh.value(k.name) == k.default_value);
        keys_checked++;
    }
    CHECK(keys_checked >= 20);
    bool negotiate_listed = false;
    for (const pwa::KeyInfo& k : pwa::config_keys())
        negotiate_listed = negotiate_listed || k.name == "negotiate_service";
    CHECK(negotiate_listed);
    fresh.set("auth", "kerberos");
    CHECK(fresh.value("auth") == "negotiate");
    CHECK_THROWS(cfg.set("open_timeout", "soon"), PWA_ERR_INVALID_ARGUMENT);
    CHECK(contains(g_err, "open_timeout") && contains(g_err, "soon"));
    try {
        cfg.set("another_bogus_key", std::string("x"));
        CHECK(false);
    } catch (const pwa::Error& e) {
        CHECK(e.status() == PWA_ERR_INVALID_ARGUMENT);
        CHECK(contains(e.message(), "another_bogus_key"));
        CHECK(std::string(e.status_name()) == "PWA_ERR_INVALID_ARGUMENT");
        const std::runtime_error& base = e;  // an Error is a std::runtime_error
        CHECK(contains(base.what(), "PWA_ERR_INVALID_ARGUMENT"));
    }
    // The configuration still works after the rejected calls.
    pwa::Channel ch = pwa::Channel::open(URL_A, cfg);
    (void)next(ch);
}

// Nothing listens: Error with PWA_ERR_CONNECT, the message names the URL.
static void connect_refused() {
    pwa::Config cfg;
    cfg.set("open_timeout", 2s);
    const std::string url = dead_url();
    auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS(pwa::Channel::open(url, &cfg), PWA_ERR_CONNECT);
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    CHECK(contains(g_err, url.substr(0, url.find("/piwebapi"))));  // ws://127.0.0.1:PORT
    CHECK_THROWS(pwa::Channel::open("not a url"), PWA_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(pwa::Channel::open(std::string("ws://a\0b", 8)), PWA_ERR_INVALID_ARGUMENT);
}

// Move semantics: moved-from objects destruct safely, nothing is freed twice.
static void move_semantics() {
    pwa::Channel a = pwa::Channel::open(URL_A);
    const pwa_channel_t ha = a.handle();
    pwa::Channel b(std::move(a));
    CHECK(!a && a.handle() == 0 && b.handle() == ha);
    CHECK_THROWS(a.poll(0ms), PWA_ERR_INVALID_HANDLE);
    CHECK_THROWS(a.close(), PWA_ERR_INVALID_HANDLE);
    CHECK_THROWS(a.state(), PWA_ERR_INVALID_HANDLE);
    pwa::Message m1 = next(b);
    const std::string_view json = m1.json();
    pwa::Message m2(std::move(m1));
    CHECK(!m1 && m1.json().empty() && m2.json().data() == json.data());
    CHECK_THROWS(m1.info(), PWA_ERR_INVALID_ARGUMENT);
    m1 = pwa::Message::from_json("{}");
    m1 = std::move(m2);  // frees the "{}" message, takes the received one
    CHECK(!m2 && m1.json().data() == json.data() && m1.value_count() >= 1);

    pwa::Channel c = pwa::Channel::open(URL_A);
    const pwa_channel_t hc = c.handle();
    c = std::move(b);  // frees c's channel first
    CHECK(!b && c.handle() == ha);
    CHECK(pwa_channel_close(hc) == PWA_ERR_INVALID_HANDLE);
    (void)next(c);
    {
        pwa::Channel d = std::move(c);
        CHECK(d.handle() == ha);
    }
    CHECK(pwa_channel_close(ha) == PWA_ERR_INVALID_HANDLE);
    c.reset();  // empty: a no-op
    pwa::Channel e;
    e = pwa::Channel();  // empty onto empty

    pwa::Config c1;
    c1.set("open_timeout", "3");
    pwa::Config c2(std::move(c1));
    CHECK(c1.get() == nullptr && c2.get() != nullptr);
    CHECK_THROWS(c1.set("open_timeout", "3"), PWA_ERR_INVALID_ARGUMENT);
    c1 = std::move(c2);
    pwa::Channel f = pwa::Channel::open(URL_A, &c1);
    (void)next(f);

    // A callback channel moved around keeps its callbacks (their state is on the heap).
    std::atomic<long> got{0};
    pwa::Channel g = pwa::Channel::open_with_callbacks(URL_A, nullptr, [&got](const pwa::Message&) { got++; });
    pwa::Channel h(std::move(g));
    CHECK(wait_for([&] { return got.load() >= 3; }));
    pwa::Channel i;
    i = std::move(h);
    const long before = got.load();
    CHECK(wait_for([&] { return got.load() >= before + 3; }));
    // a, b, c, e, g, h: moved-from; d, f, i: freed once each at the end of the scope.
}

// pause_delivery: a callback pauses its own channel (the way a full consumer does); no
// callback runs after it while paused (the simulator sends every 20 ms), the messages held
// back come after resume. On the shared callback thread here.
static void pause_delivery() {
    pwa::Config cfg;
    cfg.set("callback_thread", "shared");
    std::atomic<long> got{0};
    std::atomic<long> paused_at{-1};
    std::atomic<pwa::Channel*> self{nullptr};
    pwa::Channel ch = pwa::Channel::open_with_callbacks(URL_A, &cfg, [&](const pwa::Message&) {
        const long n = ++got;
        pwa::Channel* c = self.load();
        if (c != nullptr && paused_at.load() < 0) {
            c->pause_delivery(true);
            paused_at = n;
        }
    });
    self = &ch;
    CHECK(wait_for([&] { return paused_at.load() > 0; }));
    std::this_thread::sleep_for(400ms);  // ~20 messages arrive meanwhile
    CHECK(got.load() == paused_at.load());
    ch.pause_delivery(false);
    CHECK(wait_for([&] { return got.load() >= paused_at.load() + 10; }));
    std::printf("  pause_delivery: paused by its callback at message %ld, none while paused, %ld after resuming\n",
                paused_at.load(), got.load() - paused_at.load());
    self = nullptr;
    pwa::Channel moved(std::move(ch));
    CHECK_THROWS(ch.pause_delivery(true), PWA_ERR_INVALID_HANDLE);
}

// Callbacks: messages arrive borrowed, events come in order, exactly one CLOSED, last.
struct Seen {
    std::mutex lock;
    std::vector<pwa_event_kind> kinds;
    std::vector<pwa_status> statuses;
    std::atomic<long> messages{0};
    std::atomic<long> wrong{0};  // messages that did not look right
    std::atomic<long> after_closed{0};
    std::atomic<int> closed{0};
    std::string close_message;
    std::string url;

    void on_message(const pwa::Message& m) {
        if (closed.load()) after_closed++;
        if (!m.borrowed() || m.url() != url || m.json().empty() || m.stream_count() != 7 ||
            m.values().size() != m.value_count())
            wrong++;
        messages++;
    }
    void on_state(const pwa_state_event& e) {
        if (closed.load()) after_closed++;
        std::lock_guard<std::mutex> g(lock);
        kinds.push_back(e.kind);
        statuses.push_back(e.status);
        if (e.kind == PWA_EVENT_CONNECTED && std::string(e.url) != url) wrong++;
        if (e.kind == PWA_EVENT_CLOSED) {
            close_message = e.message;
            closed++;
        }
    }
    void check_closed_last(pwa_status terminal) {
        std::lock_guard<std::mutex> g(lock);
        CHECK(!kinds.empty() && kinds.front() == PWA_EVENT_CONNECTED);
        CHECK(kinds.back() == PWA_EVENT_CLOSED);
        CHECK(std::count(kinds.begin(), kinds.end(), PWA_EVENT_CLOSED) == 1);
        CHECK(statuses.back() == terminal);
        CHECK(closed.load() == 1 && after_closed.load() == 0 && wrong.load() == 0);
    }
};

static void callbacks() {
    // Closed with close(): CLOSED arrives, then the channel is freed.
    Seen s;
    s.url = URL_A;
    {
        pwa::Channel ch = pwa::Channel::open_with_callbacks(
            URL_A, nullptr, [&s](const pwa::Message& m) { s.on_message(m); },
            [&s](const pwa_state_event& e) { s.on_state(e); });
        CHECK(wait_for([&] { return s.messages.load() >= 10; }));
        CHECK(ch.state() == PWA_STATE_OPEN);
        // Messages go to the callback: polling is misuse.
        CHECK_THROWS(ch.poll(0ms), PWA_ERR_INVALID_ARGUMENT);
        ch.close();
        CHECK(wait_for([&] { return s.closed.load() == 1; }));
        CHECK(ch.callback_exceptions() == 0);
    }
    const long n = s.messages.load();
    std::this_thread::sleep_for(200ms);
    CHECK(s.messages.load() == n);  // nothing after free
    s.check_closed_last(PWA_CLOSED);
    CHECK(contains(s.close_message, "closed"));

    // Freed while streaming: the destructor delivers CLOSED before it returns.
    Seen t;
    t.url = URL_A;
    {
        pwa::Channel ch = pwa::Channel::open_with_callbacks(
            URL_A, nullptr, [&t](const pwa::Message& m) { t.on_message(m); },
            [&t](const pwa_state_event& e) { t.on_state(e); });
        CHECK(wait_for([&] { return t.messages.load() >= 5; }));
    }
    CHECK(t.closed.load() == 1);
    const long n2 = t.messages.load();
    std::this_thread::sleep_for(200ms);
    CHECK(t.messages.load() == n2);
    t.check_closed_last(PWA_CLOSED);

    // Only state events: messages are polled.
    Seen u;
    u.url = URL_A;
    {
        pwa::Channel ch = pwa::Channel::open_with_callbacks(URL_A, nullptr, {},
                                                            [&u](const pwa_state_event& e) { u.on_state(e); });
        (void)next(ch);
        (void)next(ch);
    }
    u.check_closed_last(PWA_CLOSED);
    std::printf("  callbacks: %ld + %ld messages, %zu + %zu events\n", n, n2, s.kinds.size(), t.kinds.size());
}

// Exceptions thrown by the user's callbacks stop at the C boundary; the channel goes on.
static void callback_exceptions() {
    std::atomic<long> messages{0}, events{0};
    std::atomic<int> closed{0};
    {
        pwa::Channel ch = pwa::Channel::open_with_callbacks(
            URL_A, nullptr,
            [&](const pwa::Message&) {
                long n = ++messages;
                if (n % 2) throw std::runtime_error("boom from on_message " + std::to_string(n));
                throw 42;  // not a std::exception
            },
            [&](const pwa_state_event& e) {
                events++;
                if (e.kind == PWA_EVENT_CLOSED) closed++;
                throw std::logic_error("boom from on_state");
            });
        CHECK(wait_for([&] { return messages.load() >= 10; }));
        CHECK(wait_for([&] { return ch.callback_exceptions() >= 10; }));
        const std::string last = ch.last_callback_exception();
        CHECK(contains(last, "boom from on_") || contains(last, "unknown exception"));
        CHECK(ch.state() == PWA_STATE_OPEN);
        ch.close();
        CHECK(wait_for([&] { return closed.load() == 1; }));
        // Every call threw once: each one was caught and counted.
        CHECK(wait_for([&] {
            return ch.callback_exceptions() == static_cast<uint64_t>(messages.load() + events.load());
        }));
        CHECK(contains(ch.last_callback_exception(), "boom from on_state"));  // CLOSED was last
    }
    CHECK(closed.load() == 1 && events.load() >= 2);
    std::printf("  callback exceptions: %ld messages, %ld events, all caught\n", messages.load(), events.load());
}

// A Channel destroyed inside its own callback: blocking calls throw there, and the channel is
// freed after the callback returned (its callback state too: valgrind checks for a leak).
static void destroy_inside_callback() {
    struct Holder {
        std::mutex lock;
        pwa::Channel ch;
        std::atomic<int> done{0};
        std::atomic<int> closed{0};
        std::atomic<long> after_closed{0};
        pwa_status update_status = PWA_OK;
        pwa_status terminal = PWA_OK;
    } h;
    pwa::Channel ch = pwa::Channel::open_with_callbacks(
        URL_A, nullptr,
        [&h](const pwa::Message&) {
            if (h.closed.load()) h.after_closed++;
            pwa::Channel victim;
            {
                std::lock_guard<std::mutex> g(h.lock);
                if (!h.ch) return;  // not handed over yet, or already destroyed
                victim = std::move(h.ch);
            }
            try {
                victim.update(URL_B);  // blocking: refused inside a callback
            } catch (const pwa::Error& e) {
                h.update_status = e.status();
            }
            h.done++;
            // `victim` is destroyed here, inside the callback.
        },
        [&h](const pwa_state_event& e) {
            if (h.closed.load()) h.after_closed++;
            if (e.kind == PWA_EVENT_CLOSED) {
                h.terminal = e.status;
                h.closed++;
            }
        });
    {
        std::lock_guard<std::mutex> g(h.lock);
        h.ch = std::move(ch);
    }
    CHECK(wait_for([&] { return h.closed.load() == 1; }));
    CHECK(h.done.load() == 1);
    CHECK(h.update_status == PWA_ERR_RECURSIVE_CALL);
    CHECK(h.terminal == PWA_CLOSED);
    std::this_thread::sleep_for(300ms);  // the helper thread frees the channel
    CHECK(h.closed.load() == 1 && h.after_closed.load() == 0);
}

// Update to the second simulator: PWA_OK, then messages come from the new URL.
static void update_to_second_simulator() {
    pwa::Channel ch = pwa::Channel::open(URL_A);
    for (int i = 0; i < 3; i++) CHECK(next(ch).url() == URL_A);
    CHECK(ch.update(URL_B, true) == PWA_OK);
    int polled = 0, from_b = 0;
    std::vector<std::string> tail;
    while (polled < 20) {
        pwa::Message m = next(ch);
        polled++;
        CHECK(m.url() == URL_A || m.url() == URL_B);
        if (m.url() == URL_B) from_b++;
        tail.emplace_back(m.url());
    }
    CHECK(from_b > 0);
    for (std::size_t k = tail.size() - 5; k < tail.size(); k++) CHECK(tail[k] == URL_B);
    CHECK(ch.stats().updates == 1);
    // A failing update with rollback is a value, not an exception; the channel goes on at B.
    CHECK(ch.update(dead_url(), true) == PWA_ROLLED_BACK);
    CHECK(contains(ch.last_error(), "127.0.0.1"));
    CHECK(ch.state() == PWA_STATE_OPEN);
    for (int i = 0; i < 3; i++) CHECK(next(ch).url() == URL_B);
    // A malformed URL is misuse: thrown, the channel unaffected.
    CHECK_THROWS(ch.update("::not a url::", true), PWA_ERR_INVALID_ARGUMENT);
    CHECK(next(ch).url() == URL_B);
    std::printf("  update: %d of %d messages after the update came from B\n", from_b, polled);
}

// After close: buffered messages first, then the terminal status, on every later poll.
static void poll_after_close() {
    pwa::Channel ch = pwa::Channel::open(URL_A);
    (void)next(ch);
    CHECK(wait_for([&] { return ch.stats().queue_depth >= 5; }));
    CHECK(ch.stats().queue_bytes > 0);
    CHECK(ch.stats().messages_dropped == 0);
    CHECK(ch.outcome() == PWA_OK);  // still running
    ch.close();
    ch.close();  // idempotent
    CHECK(wait_for([&] { return ch.outcome() != PWA_OK; }));
    CHECK(ch.outcome() == PWA_CLOSED);  // known before the drain
    int drained = 0;
    pwa::PollResult r;
    for (;;) {
        r = ch.poll(10s);
        if (!r.ok()) break;
        drained++;
    }
    CHECK(drained >= 5);
    CHECK(r.status == PWA_CLOSED && r.terminal() && !r.message && !r.timed_out());
    CHECK(ch.state() == PWA_STATE_CLOSED);
    for (int i = 0; i < 3; i++) {
        pwa::PollResult again = ch.poll(0ms);
        CHECK(again.status == PWA_CLOSED && again.terminal());
    }
    CHECK(ch.update(URL_B, true) == PWA_CLOSED);  // a terminal status: returned, not thrown

    // Closed by a failed update without rollback: drained, then PWA_UPDATE_FAILED.
    pwa::Channel ch2 = pwa::Channel::open(URL_A);
    (void)next(ch2);
    CHECK(wait_for([&] { return ch2.stats().queue_depth >= 3; }));
    CHECK(ch2.update(dead_url(), false) == PWA_UPDATE_FAILED);
    int drained2 = 0;
    for (;;) {
        r = ch2.poll(10s);
        if (!r.ok()) break;
        drained2++;
    }
    CHECK(drained2 >= 3 && r.status == PWA_UPDATE_FAILED && r.terminal());
    CHECK(contains(ch2.last_error(), "rollback"));
    std::printf("  poll after close: drained %d, then PWA_CLOSED; after a failed update: drained %d, then %s\n",
                drained, drained2, pwa_status_name(r.status));
}

// URL builders against the simulator.
static void url_builders() {
    pwa::Channel probe = pwa::Channel::open(URL_A);
    pwa::Message m = next(probe);
    std::vector<std::string> ids;
    for (const pwa::StreamInfo& s : m.streams()) ids.emplace_back(s.web_id);
    CHECK(ids.size() == 7);
    CHECK(pwa::adhoc_url(BASE_A, ids) == URL_A);  // the simulator's own ad hoc URL

    pwa::UrlOptions opts;
    opts.include_initial_values = true;
    const std::string url = pwa::stream_url(BASE_A, ids[0], opts);
    CHECK(url == BASE_A + "/streams/" + ids[0] + "/channel?includeInitialValues=true");
    pwa::Channel ch = pwa::Channel::open(url);
    pwa::Message first = next(ch);
    CHECK(first.stream_count() == 1 && first.stream(0).web_id == ids[0] && first.stream(0).name == "SINUSOID");

    const std::vector<std::string> parts = pwa::adhoc_urls(BASE_A, ids, pwa::UrlOptions(), 300);
    CHECK(parts.size() > 1);
    std::string joined;
    for (const std::string& p : parts) {
        CHECK(p.size() <= 300);
        joined += p;
    }
    std::size_t pos = 0;
    for (const std::string& id : ids) {  // every WebId, in order
        pos = joined.find(id, pos);
        CHECK(pos != std::string::npos);
    }
    CHECK(pwa::adhoc_urls(BASE_A, ids).size() == 1);

    CHECK_THROWS(pwa::stream_url(BASE_A, "not a web id!"), PWA_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(pwa::stream_url("ftp://host/piwebapi", ids[0]), PWA_ERR_INVALID_ARGUMENT);
    opts.name_filter = "Flow*";  // stream-set only
    CHECK_THROWS(pwa::stream_url(BASE_A, ids[0], opts), PWA_ERR_INVALID_ARGUMENT);
    CHECK(contains(pwa::streamset_url(BASE_A, "F1Emabc", opts), "nameFilter=Flow"));
}

static void subscription_set() {
    pwa::Channel probe = pwa::Channel::open(URL_A);
    pwa::Message m = next(probe);
    std::vector<std::string> ids;
    for (const pwa::StreamInfo& s : m.streams()) ids.emplace_back(s.web_id);
    CHECK(ids.size() == 7);
    pwa::Config cfg;
    cfg.set("max_streams_per_channel", "2");
    std::atomic<int> rejected{0}, closed{0};
    pwa::Subscription set = pwa::Subscription::open(
        BASE_A, &cfg, pwa::UrlOptions(), {}, [&](const pwa_subscription_event& e) {
            if (e.kind == PWA_SET_EVENT_REJECTED) rejected++;
            if (e.kind == PWA_SET_EVENT_CLOSED) closed++;
        });
    std::vector<std::string> with_bad = ids;
    with_bad.push_back("F1DPnoSuchPointAtAll");
    pwa_subscription_add_report r = set.add(with_bad);
    CHECK(r.added == 7 && r.rejected == 1 && r.duplicates == 0);
    CHECK(rejected.load() == 1);
    std::vector<pwa::Rejected> rej = set.rejected();
    CHECK(rej.size() == 1 && rej[0].web_id == "F1DPnoSuchPointAtAll");
    CHECK(contains(rej[0].reason, "404"));
    CHECK(set.stats().shards == 4 && set.shard_stats().size() == 4);
    std::set<uint32_t> shards;
    for (int i = 0; i < 30; i++) {
        pwa::SetPollResult p = set.poll(5s);
        CHECK(p.ok());
        shards.insert(p.shard);
    }
    CHECK(shards.size() > 1);
    CHECK(set.remove({ids[0]}) == 1);
    for (int i = 0; i < 20; i++) {
        pwa::SetPollResult p = set.poll(5s);
        CHECK(p.ok());
        for (const pwa::StreamInfo& s : p.message->streams()) CHECK(s.web_id != ids[0]);
    }
    pwa::Config tight;
    tight.set("max_channels", "1").set("max_streams_per_channel", "1");
    pwa::Subscription small = pwa::Subscription::open(BASE_A, &tight);
    CHECK_THROWS(small.add({ids[0], ids[1]}), PWA_ERR_LIMIT);
    CHECK_THROWS(small.add({"not a web id"}), PWA_ERR_INVALID_ARGUMENT);
    set.close();
    pwa::SetPollResult p;
    while ((p = set.poll(5s)).ok()) {
    }
    CHECK(p.status == PWA_CLOSED);
    set.reset();
    CHECK(closed.load() == 1);
}

static std::string arg_or_env(int argc, char** argv, int i, const char* env) {
    if (argc > i && argv[i][0]) return argv[i];
    const char* v = std::getenv(env);
    if (!v || !*v) {
        std::fprintf(stderr, "usage: %s URL_A URL_B BASE_A ARCHIVE_ADHOC ARCHIVE_BASE (or set SIM_ADHOC, SIM2_ADHOC, SIM_BASE, ARCHIVE_ADHOC, ARCHIVE_BASE)\n", argv[0]);
        std::exit(2);
    }
    return v;
}

// GET /_sim/<command> on the simulator whose base URL (ws://127.0.0.1:PORT/...) is `base`;
// true when it answered 200.
static bool sim_control(const std::string& base, const std::string& command) {
    std::size_t colon = base.find(':', base.find("://") + 3);
    if (colon == std::string::npos) return false;
    int port = std::atoi(base.c_str() + colon + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return false;
    }
    std::string req = "GET /_sim/" + command + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    bool ok = write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size());
    char resp[64] = {0};
    ok = ok && read(fd, resp, sizeof resp - 1) > 12 && std::string(resp + 9, 3) == "200";
    close(fd);
    return ok;
}

// gap_fill: after an outage the backfilled messages are flagged (MessageInfo and
// Message::is_backfilled) and BACKFILL_DONE counts exactly their values.
static void gap_fill() {
    std::mutex mu;
    std::vector<std::string> kinds;
    uint64_t done_count = 0;
    bool done = false;
    pwa::Config cfg;
    cfg.set("gap_fill", "true");
    cfg.set("reconnect", "true");
    cfg.set("reconnect_initial_delay", "0.1");
    pwa::Channel ch = pwa::Channel::open_with_callbacks(
        ARCHIVE_ADHOC, &cfg, {}, [&](const pwa_state_event& e) {
            std::lock_guard<std::mutex> g(mu);
            kinds.push_back(pwa::event_kind_name(e.kind));
            if (e.kind == PWA_EVENT_BACKFILL_DONE || e.kind == PWA_EVENT_BACKFILL_FAILED) {
                done_count = e.count;
                done = true;
            }
        });
    next(ch);
    CHECK(sim_control(ARCHIVE_BASE, "restart?ms=1500"));
    // Polled messages and events are not synchronised: after BACKFILL_DONE, the backfilled
    // messages still queued come first, then live ones.
    uint64_t backfilled = 0;
    bool live_after_done = false;
    auto end = std::chrono::steady_clock::now() + 30s;
    while (!live_after_done) {
        bool was_done;
        {
            std::lock_guard<std::mutex> g(mu);
            was_done = done;
        }
        CHECK(std::chrono::steady_clock::now() < end);
        pwa::PollResult r = ch.poll(100ms);
        if (!r.ok()) continue;
        pwa::MessageInfo info = r.message->info();
        CHECK(info.is_backfilled == r.message->is_backfilled());
        if (info.is_backfilled) {
            CHECK(info.is_rewritten);
            backfilled += info.value_count;
        } else if (was_done && info.value_count > 0) {
            live_after_done = true;
        }
    }
    std::lock_guard<std::mutex> g(mu);
    CHECK(std::find(kinds.begin(), kinds.end(), "BACKFILL_STARTED") != kinds.end());
    CHECK(kinds.back() == "BACKFILL_DONE");
    CHECK(backfilled > 0 && backfilled == done_count);
}

int main(int argc, char** argv) {
    URL_A = arg_or_env(argc, argv, 1, "SIM_ADHOC");
    URL_B = arg_or_env(argc, argv, 2, "SIM2_ADHOC");
    BASE_A = arg_or_env(argc, argv, 3, "SIM_BASE");
    ARCHIVE_ADHOC = arg_or_env(argc, argv, 4, "ARCHIVE_ADHOC");
    ARCHIVE_BASE = arg_or_env(argc, argv, 5, "ARCHIVE_BASE");
    CHECK(URL_A != URL_B);
    std::printf("piwebasync %s (header %d.%d.%d)\n", pwa::version(), PWA_VERSION_MAJOR, PWA_VERSION_MINOR,
                PWA_VERSION_PATCH);
    struct {
        const char* name;
        void (*fn)();
    } tests[] = {
        {"poll_typed_values", poll_typed_values},
        {"message_from_json", message_from_json},
        {"config_errors", config_errors},
        {"connect_refused", connect_refused},
        {"move_semantics", move_semantics},
        {"callbacks", callbacks},
        {"pause_delivery", pause_delivery},
        {"callback_exceptions", callback_exceptions},
        {"destroy_inside_callback", destroy_inside_callback},
        {"update_to_second_simulator", update_to_second_simulator},
        {"poll_after_close", poll_after_close},
        {"url_builders", url_builders},
        {"gap_fill", gap_fill},
        {"subscription_set", subscription_set},
    };
    for (const auto& t : tests) {
        std::printf("- %s\n", t.name);
        std::fflush(stdout);
        try {
            t.fn();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: unexpected exception: %s\n", t.name, e.what());
            return 1;
        }
    }
    CHECK(pwa::shutdown(5s) == PWA_OK);
    std::printf("all %zu tests passed\n", sizeof tests / sizeof tests[0]);
    return 0;
}
