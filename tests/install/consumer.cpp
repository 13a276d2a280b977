// consumer.cpp: an out-of-tree C++14 user of the installed C++ wrapper (piwebasync.hpp), built by
// scripts/test-install.sh with CMake's find_package (CXX_STANDARD 14, no extensions) and run
// against the simulator.
//
//   consumer_cpp URL COUNT   streams COUNT messages, reads every value with its timestamp
#include <cstdio>
#include <cstdlib>
#include <string>

#include "piwebasync.hpp"

#if __cplusplus >= 201703L
#error "this consumer must be compiled as C++14: it checks the wrapper's C++14 fallbacks"
#endif

namespace pwa = piwebasync;

int main(int argc, char** argv) {
    if (argc != 3 || std::atoi(argv[2]) <= 0) {
        std::fprintf(stderr, "usage: %s URL COUNT\n", argv[0]);
        return 2;
    }
    const int want = std::atoi(argv[2]);
    try {
        pwa::Config cfg;
        cfg.set("open_timeout", std::chrono::seconds(10));
        pwa::Channel ch = pwa::Channel::open(argv[1], cfg);
        int got = 0;
        std::size_t values = 0, stamped = 0;
        while (got < want) {
            pwa::PollResult r = ch.poll(std::chrono::seconds(10));
            if (!r.ok()) {
                std::fprintf(stderr, "consumer_cpp: poll: %s (%s)\n", pwa::status_name(r.status),
                             ch.last_error().c_str());
                return 1;
            }
            pwa::optional<pwa::Message>& m = r.message;
            if (!m.has_value()) {
                std::fprintf(stderr, "consumer_cpp: PWA_OK without a message\n");
                return 1;
            }
            pwa::string_view json = m->json();
            if (json.empty() || json[0] != '{') {
                std::fprintf(stderr, "consumer_cpp: the message's JSON is not an object\n");
                return 1;
            }
            for (const pwa::Value& v : m->values()) {
                values++;
                pwa::optional<pwa::TimePoint> t = v.timestamp();
                if (t) stamped++;
            }
            got++;
        }
        if (values == 0 || stamped == 0) {
            std::fprintf(stderr, "consumer_cpp: %zu values, %zu with a timestamp\n", values, stamped);
            return 1;
        }
        std::printf("consumer_cpp: piwebasync %s, %d messages, %zu values\n", pwa::version(), got,
                    values);
    } catch (const pwa::Error& e) {
        std::fprintf(stderr, "consumer_cpp: %s\n", e.what());
        return 1;
    }
    pwa::shutdown(std::chrono::seconds(5));
    return 0;
}
