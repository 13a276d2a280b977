/* Prints the size and field offsets of the header's structs, one struct a line:
 *   NAME SIZE field=offset field=offset ...
 * tests/dotnet/TestBinding.cs compares them with the P/Invoke structs of bindings/dotnet. */
#include <stddef.h>
#include <stdio.h>
#include "piwebasync.h"

#define S(T) printf("%s %zu", #T, sizeof(T))
#define F(T, f) printf(" %s=%zu", #f, offsetof(T, f))
#define E() printf("\n")

int main(void) {
    S(pwa_state_event); F(pwa_state_event, kind); F(pwa_state_event, status);
    F(pwa_state_event, attempt); F(pwa_state_event, delay_ms); F(pwa_state_event, url);
    F(pwa_state_event, message); F(pwa_state_event, count); F(pwa_state_event, missing);
    F(pwa_state_event, missing_count); E();

    S(pwa_missing_range); F(pwa_missing_range, web_id); F(pwa_missing_range, from_unix_ns);
    F(pwa_missing_range, to_unix_ns); F(pwa_missing_range, from_exclusive); E();

    S(pwa_callbacks); F(pwa_callbacks, on_message); F(pwa_callbacks, on_state);
    F(pwa_callbacks, user_data); E();

    S(pwa_stats); F(pwa_stats, messages); F(pwa_stats, bytes); F(pwa_stats, reconnects);
    F(pwa_stats, updates); F(pwa_stats, queue_depth); F(pwa_stats, last_message_unix_ns);
    F(pwa_stats, queue_bytes); F(pwa_stats, messages_dropped); E();

    S(pwa_config_key_info); F(pwa_config_key_info, name); F(pwa_config_key_info, kind);
    F(pwa_config_key_info, default_value); F(pwa_config_key_info, doc);
    F(pwa_config_key_info, is_secret); E();

    S(pwa_url_options); F(pwa_url_options, name_filter); F(pwa_url_options, category_name);
    F(pwa_url_options, template_name); F(pwa_url_options, include_initial_values);
    F(pwa_url_options, heartbeat_rate); F(pwa_url_options, web_id_type);
    F(pwa_url_options, search_full_hierarchy); F(pwa_url_options, show_excluded);
    F(pwa_url_options, show_hidden); E();

    S(pwa_message_info); F(pwa_message_info, parse_error);
    F(pwa_message_info, web_exception_errors); F(pwa_message_info, stream_count);
    F(pwa_message_info, value_count); F(pwa_message_info, is_heartbeat);
    F(pwa_message_info, is_unparsable); F(pwa_message_info, has_web_exception);
    F(pwa_message_info, web_exception_status); F(pwa_message_info, is_backfilled);
    F(pwa_message_info, is_rewritten); E();

    S(pwa_stream_info); F(pwa_stream_info, web_id); F(pwa_stream_info, name);
    F(pwa_stream_info, path); F(pwa_stream_info, units); F(pwa_stream_info, web_exception_errors);
    F(pwa_stream_info, first_value); F(pwa_stream_info, value_count);
    F(pwa_stream_info, has_web_exception); F(pwa_stream_info, web_exception_status); E();

    S(pwa_value); F(pwa_value, timestamp_ns); F(pwa_value, number); F(pwa_value, integer);
    F(pwa_value, text); F(pwa_value, units); F(pwa_value, timestamp_text); F(pwa_value, errors);
    F(pwa_value, web_exception_errors); F(pwa_value, stream_index); F(pwa_value, kind);
    F(pwa_value, timestamp_valid); F(pwa_value, good); F(pwa_value, questionable);
    F(pwa_value, substituted); F(pwa_value, annotated); F(pwa_value, is_system);
    F(pwa_value, error_count); F(pwa_value, has_web_exception); F(pwa_value, web_exception_status);
    E();

    S(pwa_subscription_callbacks); F(pwa_subscription_callbacks, on_message);
    F(pwa_subscription_callbacks, on_state); F(pwa_subscription_callbacks, user_data); E();

    S(pwa_subscription_event); F(pwa_subscription_event, kind); F(pwa_subscription_event, shard);
    F(pwa_subscription_event, shard_event); F(pwa_subscription_event, web_id);
    F(pwa_subscription_event, message); F(pwa_subscription_event, status); E();

    S(pwa_subscription_add_report); F(pwa_subscription_add_report, added);
    F(pwa_subscription_add_report, duplicates); F(pwa_subscription_add_report, rejected); E();

    S(pwa_set_stats); F(pwa_set_stats, streams); F(pwa_set_stats, shards);
    F(pwa_set_stats, shards_open); F(pwa_set_stats, shards_reconnecting); F(pwa_set_stats, values);
    F(pwa_set_stats, values_per_second); F(pwa_set_stats, queue_depth); F(pwa_set_stats, rejected);
    E();

    S(pwa_shard_stats); F(pwa_shard_stats, shard); F(pwa_shard_stats, state);
    F(pwa_shard_stats, streams); F(pwa_shard_stats, messages); F(pwa_shard_stats, values);
    F(pwa_shard_stats, reconnects); F(pwa_shard_stats, updates);
    F(pwa_shard_stats, messages_dropped); E();
    return 0;
}
