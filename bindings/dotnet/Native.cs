// P/Invoke declarations mirroring include/piwebasync.h, one to one.
//
// Mapping rules:
// - pwa_status (int32_t) -> int; pwa_channel_t (uint64_t) -> ulong (a generational id, not a
//   pointer: never IntPtr, which is 32 bits in a 32-bit process).
// - size_t -> UIntPtr; pointers to opaque objects -> IntPtr (pwa_config* -> ConfigHandle, a
//   SafeHandle, where it is passed in).
// - Strings in: NUL-terminated UTF-8 byte[] made by Utf8.Encode (never the platform's default
//   ANSI marshalling). Strings out: IntPtr read by Utf8.Decode (finds the NUL, decodes UTF-8).
// - Structs: LayoutKind.Sequential, fields in header order, natural alignment (as the C
//   compiler lays them out; pwa_state_event has 4 bytes of padding before delay_ms, which
//   Sequential reproduces).
// Stays within C# 7 (Mono's mcs) and compiles unchanged for netstandard2.0 / .NET 6+.
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace PiWebAsync
{
    /// <summary>Owns a pwa_config*; ReleaseHandle calls pwa_config_free.</summary>
    internal sealed class ConfigHandle : SafeHandle
    {
        public ConfigHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            Native.pwa_config_free(handle);
            return true;
        }
    }

    internal static class Native
    {
        internal const string Lib = "piwebasync";

        // ---- constants (#define in the header) ----
        internal const int PWA_LOG_OFF = 0;
        internal const int PWA_LOG_ERROR = 1;
        internal const int PWA_LOG_WARN = 2;
        internal const int PWA_LOG_INFO = 3;
        internal const int PWA_LOG_DEBUG = 4;
        internal const int PWA_LOG_TRACE = 5;
        internal const int PWA_URL_DEFAULT_MAX_LEN = 4096;
        internal const int PWA_VERSION_MAJOR = 0;
        internal const int PWA_VERSION_MINOR = 1;
        internal const int PWA_VERSION_PATCH = 0;

        internal const int PWA_EVENT_CONNECTED = 1;
        internal const int PWA_EVENT_DISCONNECTED = 2;
        internal const int PWA_EVENT_RECONNECTING = 3;
        internal const int PWA_EVENT_RECONNECTED = 4;
        internal const int PWA_EVENT_UPDATED = 5;
        internal const int PWA_EVENT_ROLLED_BACK = 6;
        internal const int PWA_EVENT_CLOSED = 7;

        internal const int PWA_STATE_CONNECTING = 0;
        internal const int PWA_STATE_OPEN = 1;
        internal const int PWA_STATE_RECONNECTING = 2;
        internal const int PWA_STATE_CLOSING = 3;
        internal const int PWA_STATE_CLOSED = 4;

        internal const int PWA_OK = 0;
        internal const int PWA_TIMEOUT = 1;
        internal const int PWA_CLOSED = 2;
        internal const int PWA_CLOSED_ERROR = 3;
        internal const int PWA_WATCHDOG_TIMEOUT = 4;
        internal const int PWA_UPDATE_FAILED = 5;
        internal const int PWA_ROLLED_BACK = 6;
        internal const int PWA_ERR_INVALID_ARGUMENT = -1;
        internal const int PWA_ERR_INVALID_HANDLE = -2;
        internal const int PWA_ERR_BUFFER_TOO_SMALL = -3;
        internal const int PWA_ERR_CONNECT = -10;
        internal const int PWA_ERR_TLS = -11;
        internal const int PWA_ERR_AUTH = -12;
        internal const int PWA_ERR_HTTP_STATUS = -13;
        internal const int PWA_ERR_OPEN_TIMEOUT = -14;
        internal const int PWA_ERR_PROTOCOL = -15;
        internal const int PWA_ERR_RECURSIVE_CALL = -20;
        internal const int PWA_ERR_BUSY = -21;
        internal const int PWA_ERR_SHUTDOWN = -30;
        internal const int PWA_ERR_PANIC = -31;
        internal const int PWA_ERR_INTERNAL = -32;
        internal const int PWA_ERR_LIMIT = -40;

        internal const int PWA_WEBID_TYPE_DEFAULT = 0;
        internal const int PWA_WEBID_TYPE_FULL = 1;
        internal const int PWA_WEBID_TYPE_ID_ONLY = 2;
        internal const int PWA_WEBID_TYPE_PATH_ONLY = 3;
        internal const int PWA_WEBID_TYPE_LOCAL_ID_ONLY = 4;
        internal const int PWA_WEBID_TYPE_DEFAULT_ID_ONLY = 5;

        internal const int PWA_VALUE_NULL = 0;
        internal const int PWA_VALUE_DOUBLE = 1;
        internal const int PWA_VALUE_INT64 = 2;
        internal const int PWA_VALUE_STRING = 3;
        internal const int PWA_VALUE_BOOL = 4;
        internal const int PWA_VALUE_DIGITAL = 5;
        internal const int PWA_VALUE_OTHER = 6;

        internal const int PWA_FIELD_PARSE_ERROR = 0;
        internal const int PWA_FIELD_MESSAGE_WEB_EXCEPTION = 1;
        internal const int PWA_FIELD_STREAM_WEB_ID = 10;
        internal const int PWA_FIELD_STREAM_NAME = 11;
        internal const int PWA_FIELD_STREAM_PATH = 12;
        internal const int PWA_FIELD_STREAM_UNITS = 13;
        internal const int PWA_FIELD_STREAM_WEB_EXCEPTION = 14;
        internal const int PWA_FIELD_VALUE_TEXT = 20;
        internal const int PWA_FIELD_VALUE_UNITS = 21;
        internal const int PWA_FIELD_VALUE_TIMESTAMP = 22;
        internal const int PWA_FIELD_VALUE_ERRORS = 23;
        internal const int PWA_FIELD_VALUE_WEB_EXCEPTION = 24;

        /// <summary>(size_t)-1: pwa_message_from_json's "the text is NUL-terminated".</summary>
        internal static readonly UIntPtr SIZE_MAX = UIntPtr.Size == 8
            ? new UIntPtr(ulong.MaxValue) : new UIntPtr(uint.MaxValue);

        // ---- structs, field by field in header order ----

        /// <summary>pwa_state_event</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_state_event
        {
            public int kind;            // pwa_event_kind
            public int status;          // pwa_status
            public uint attempt;        // uint32_t
            public ulong delay_ms;      // uint64_t (4 bytes of padding before it)
            public IntPtr url;          // const char*
            public IntPtr message;      // const char*
            public ulong count;         // uint64_t
            public IntPtr missing;      // const pwa_missing_range*
            public UIntPtr missing_count; // size_t
        }

        /// <summary>pwa_missing_range</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_missing_range
        {
            public IntPtr web_id;       // const char*
            public long from_unix_ns;
            public long to_unix_ns;
            public int from_exclusive;
        }

        /// <summary>pwa_callbacks</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_callbacks
        {
            public IntPtr on_message;   // pwa_message_cb
            public IntPtr on_state;     // pwa_state_cb
            public IntPtr user_data;    // void*
        }

        /// <summary>pwa_stats</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_stats
        {
            public ulong messages;
            public ulong bytes;
            public ulong reconnects;
            public ulong updates;
            public ulong queue_depth;
            public long last_message_unix_ns;
            public ulong queue_bytes;
            public ulong messages_dropped;
        }

        /// <summary>pwa_url_options</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_url_options
        {
            public IntPtr name_filter;      // const char*
            public IntPtr category_name;    // const char*
            public IntPtr template_name;    // const char*
            public int include_initial_values;
            public int heartbeat_rate;
            public int web_id_type;         // pwa_webid_type
            public int search_full_hierarchy;
            public int show_excluded;
            public int show_hidden;
        }

        /// <summary>pwa_message_info</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_message_info
        {
            public IntPtr parse_error;
            public IntPtr web_exception_errors;
            public UIntPtr stream_count;
            public UIntPtr value_count;
            public int is_heartbeat;
            public int is_unparsable;
            public int has_web_exception;
            public int web_exception_status;
            public int is_backfilled;
            public int is_rewritten;
        }

        /// <summary>pwa_stream_info</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_stream_info
        {
            public IntPtr web_id;
            public IntPtr name;
            public IntPtr path;
            public IntPtr units;
            public IntPtr web_exception_errors;
            public UIntPtr first_value;
            public UIntPtr value_count;
            public int has_web_exception;
            public int web_exception_status;
        }

        /// <summary>pwa_value</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_value
        {
            public long timestamp_ns;
            public double number;
            public long integer;
            public IntPtr text;
            public IntPtr units;
            public IntPtr timestamp_text;
            public IntPtr errors;
            public IntPtr web_exception_errors;
            public UIntPtr stream_index;
            public int kind;                // pwa_value_kind
            public int timestamp_valid;
            public int good;
            public int questionable;
            public int substituted;
            public int annotated;
            public int is_system;
            public int error_count;
            public int has_web_exception;
            public int web_exception_status;
        }

        // ---- callback types ----

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void pwa_message_cb(IntPtr user_data, ulong channel, IntPtr message);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void pwa_state_cb(IntPtr user_data, ulong channel, IntPtr evt);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void pwa_subscription_message_cb(IntPtr user_data, ulong set, uint shard,
            IntPtr message);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void pwa_subscription_state_cb(IntPtr user_data, ulong set, IntPtr evt);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void pwa_log_cb(IntPtr user_data, int level, IntPtr line);

        // ---- functions, in header order ----

        // cfg is IntPtr (NULL allowed: the defaults); the caller keeps its ConfigHandle alive
        // (DangerousAddRef) around the call.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_open(byte[] url, IntPtr cfg,
            ref pwa_callbacks callbacks, out ulong handle);

        /// <summary>pwa_channel_open with callbacks NULL (poll mode, no state events).</summary>
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "pwa_channel_open")]
        internal static extern int pwa_channel_open_nocb(byte[] url, IntPtr cfg, IntPtr callbacks,
            out ulong handle);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_poll_next(ulong h, int timeout_ms, out IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_update(ulong h, byte[] url, int rollback);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_close(ulong h);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_pause_delivery(ulong h, int paused);

        // ---- subscription sets ----

        /// <summary>pwa_subscription_callbacks</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_subscription_callbacks
        {
            public IntPtr on_message;   // pwa_subscription_message_cb
            public IntPtr on_state;     // pwa_subscription_state_cb
            public IntPtr user_data;    // void*
        }

        /// <summary>pwa_subscription_event</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_subscription_event
        {
            public int kind;            // pwa_subscription_event_kind
            public uint shard;          // uint32_t
            public IntPtr shard_event;  // const pwa_state_event*
            public IntPtr web_id;       // const char*
            public IntPtr message;      // const char*
            public int status;          // pwa_status
        }

        /// <summary>pwa_shard_stats</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_shard_stats
        {
            public uint shard;
            public int state;           // pwa_state
            public ulong streams;
            public ulong messages;
            public ulong values;
            public ulong reconnects;
            public ulong updates;
            public ulong messages_dropped;
        }

        /// <summary>pwa_subscription_add_report</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_subscription_add_report
        {
            public ulong added;
            public ulong duplicates;
            public ulong rejected;
        }

        /// <summary>pwa_set_stats</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_set_stats
        {
            public ulong streams;
            public ulong shards;
            public ulong shards_open;
            public ulong shards_reconnecting;
            public ulong values;
            public double values_per_second;
            public ulong queue_depth;
            public ulong rejected;
        }

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_open(byte[] base_url, IntPtr cfg,
            IntPtr opts, IntPtr callbacks, out ulong h);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_open(byte[] base_url, IntPtr cfg,
            IntPtr opts, ref pwa_subscription_callbacks callbacks, out ulong h);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_shard_stats(ulong h, UIntPtr index,
            out pwa_shard_stats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_add(ulong h, IntPtr[] web_ids, UIntPtr count,
            out pwa_subscription_add_report report);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_remove(ulong h, IntPtr[] web_ids,
            UIntPtr count, out UIntPtr removed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_poll_next(ulong h, int timeout_ms,
            out IntPtr msg, out uint shard);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_close(ulong h);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_free(ulong h);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_stats(ulong h, out pwa_set_stats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_subscription_rejected(ulong h, UIntPtr index,
            byte[] web_id, UIntPtr web_id_cap, out UIntPtr web_id_needed,
            byte[] reason, UIntPtr reason_cap, out UIntPtr reason_needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_free(ulong h);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_last_error(ulong h, [Out] byte[] buf, UIntPtr cap,
            out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_state(ulong h, out int state);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_outcome(ulong h, out int status);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_stats(ulong h, out pwa_stats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ConfigHandle pwa_config_new();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_config_set(ConfigHandle cfg, byte[] key, byte[] value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void pwa_config_free(IntPtr cfg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_config_get(ConfigHandle cfg, byte[] key, [Out] byte[] buf,
            UIntPtr cap, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr pwa_config_key_count();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_config_key(UIntPtr index, out pwa_config_key_info info);

        /// <summary>pwa_config_key_info</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct pwa_config_key_info
        {
            public IntPtr name;
            public IntPtr kind;
            public IntPtr default_value;
            public IntPtr doc;
            public int is_secret;
        }

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_set_bearer_token(ulong h, byte[] token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_set_password(ulong h, byte[] password);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_last_error([Out] byte[] buf, UIntPtr cap, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_set_log_callback(int level, pwa_log_cb cb, IntPtr user_data);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_from_json(byte[] json, UIntPtr len, out IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr pwa_message_json(IntPtr msg, out UIntPtr len);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr pwa_message_url(IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void pwa_message_free(IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_channel_poll_json(ulong h, int timeout_ms, [Out] byte[] buf,
            UIntPtr cap, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_runtime_configure(uint worker_threads);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_shutdown(int timeout_ms);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr pwa_status_str(int code);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr pwa_status_name(int code);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_url_stream(byte[] base_url, byte[] web_id,
            ref pwa_url_options opts, [Out] byte[] buf, UIntPtr cap, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_url_streamset(byte[] base_url, byte[] web_id,
            ref pwa_url_options opts, [Out] byte[] buf, UIntPtr cap, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_url_adhoc(byte[] base_url, byte[] web_ids,
            ref pwa_url_options opts, [Out] byte[] buf, UIntPtr cap, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_url_adhoc_split(byte[] base_url, byte[] web_ids,
            ref pwa_url_options opts, UIntPtr max_url_len, [Out] byte[] buf, UIntPtr cap,
            out UIntPtr needed, out UIntPtr url_count);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_get_info(IntPtr msg, out pwa_message_info info);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_is_heartbeat(IntPtr msg, out int result);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_is_unparsable(IntPtr msg, out int result);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_stream_count(IntPtr msg, out UIntPtr count);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_value_count(IntPtr msg, out UIntPtr count);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_stream(IntPtr msg, UIntPtr i, out pwa_stream_info info);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_value(IntPtr msg, UIntPtr k, out pwa_value value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int pwa_message_copy_string(IntPtr msg, int field, UIntPtr index,
            [Out] byte[] buf, UIntPtr cap, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr pwa_value_kind_name(int kind);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr pwa_version();

        // ---- finding the native library ----

        private static volatile bool loaded;

        /// <summary>Called by every public entry point before its first native call: when the
        /// native library cannot be loaded, throws a DllNotFoundException that says which file
        /// names and folders were looked in, what was found there, and how to fix it, instead of
        /// the runtime's bare "piwebasync".</summary>
        internal static void EnsureLoaded()
        {
            if (loaded) return;
            try
            {
                pwa_version();
                loaded = true;
            }
            catch (DllNotFoundException e)
            {
                throw new DllNotFoundException(LoadFailureMessage(e), e);
            }
            catch (BadImageFormatException e)
            {
                throw new DllNotFoundException(LoadFailureMessage(e), e);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new DllNotFoundException(
                    "PiWebAsync: a library named '" + Lib + "' was loaded but has no pwa_version: it is "
                    + "not piwebasync, or a very different version. " + LoadFailureMessage(e), e);
            }
        }

        // Without RuntimeInformation (not in every Mono install): Windows by the platform id,
        // macOS by its system folder, the architecture by the pointer size (x64 / x86).
        private static bool IsWindows { get { return Environment.OSVersion.Platform == PlatformID.Win32NT; } }
        private static bool IsMac { get { return !IsWindows && Directory.Exists("/System/Library/Frameworks"); } }

        internal static string Rid()
        {
            string arch = IntPtr.Size == 8 ? "x64" : "x86";
            return (IsWindows ? "win-" : IsMac ? "osx-" : "linux-") + arch;
        }

        internal static string LoadFailureMessage(Exception e)
        {
            bool win = IsWindows;
            bool mac = IsMac;
            string file = win ? "piwebasync.dll" : mac ? "libpiwebasync.dylib" : "libpiwebasync.so";
            string[] names = win ? new[] { "piwebasync.dll", "piwebasync" }
                : mac ? new[] { "libpiwebasync.dylib", "piwebasync.dylib", "piwebasync" }
                : new[] { "libpiwebasync.so", "piwebasync.so", "libpiwebasync", "piwebasync" };
            string rid = Rid();
            string pathVar = win ? "PATH" : mac ? "DYLD_LIBRARY_PATH" : "LD_LIBRARY_PATH";

            var folders = new List<string>();
            Action<string> add = f =>
            {
                if (string.IsNullOrEmpty(f)) return;
                try { f = Path.GetFullPath(f); } catch (Exception) { return; }
                if (f.Length > 1) f = f.TrimEnd(Path.DirectorySeparatorChar);
                if (!folders.Contains(f)) folders.Add(f);
            };
            string appDir = AppDomain.CurrentDomain.BaseDirectory;
            string asmDir = null;
            try { asmDir = Path.GetDirectoryName(typeof(Native).Assembly.Location); } catch (Exception) { }
            add(appDir);
            add(asmDir);
            if (appDir != null) add(Path.Combine(appDir, "runtimes", rid, "native"));
            if (asmDir != null) add(Path.Combine(asmDir, "runtimes", rid, "native"));
            string envPath = Environment.GetEnvironmentVariable(pathVar);
            if (!string.IsNullOrEmpty(envPath))
                foreach (string f in envPath.Split(Path.PathSeparator)) add(f);

            var sb = new StringBuilder();
            sb.Append("PiWebAsync: cannot load the native piwebasync library (").Append(rid).Append(", ")
              .Append(IntPtr.Size * 8).Append("-bit process). ");
            sb.Append("Names tried: ").Append(string.Join(", ", names)).Append(". ");
            sb.Append("Folders: ");
            for (int i = 0; i < folders.Count; i++)
            {
                string candidate = Path.Combine(folders[i], file);
                bool exists = false;
                try { exists = File.Exists(candidate); } catch (Exception) { }
                if (i > 0) sb.Append("; ");
                sb.Append(folders[i]).Append(exists ? " (" + file + " is there but did not load: wrong architecture or a missing dependency?)" : " (no " + file + ")");
            }
            if (string.IsNullOrEmpty(envPath)) sb.Append("; ").Append(pathVar).Append(" is not set");
            sb.Append(win ? "; then the system folders." : "; then the system's library path (ldconfig).");
            sb.Append(" To fix: put ").Append(file).Append(" beside your application (the PiWebAsync NuGet package carries it in runtimes/")
              .Append(rid).Append("/native/; the .NET SDK copies it to the output folder, other build systems must copy it), or add its folder to ")
              .Append(pathVar).Append(win ? "." : ", or install it into the system (make install; ldconfig).");
            if (e != null && !string.IsNullOrEmpty(e.Message)) sb.Append(" Runtime's message: ").Append(e.Message);
            return sb.ToString();
        }
    }

    /// <summary>UTF-8 in both directions, independent of the platform's ANSI code page.</summary>
    internal static class Utf8
    {
        // Throws on invalid input instead of substituting silently; the library only hands out
        // valid UTF-8 and refuses invalid UTF-8 coming in.
        private static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>NUL-terminated UTF-8 bytes of s; null stays null (the C side sees NULL).
        /// A string holding U+0000 is refused: C would silently cut it there.</summary>
        internal static byte[] Encode(string s)
        {
            if (s == null) return null;
            if (s.IndexOf('\0') >= 0)
                throw new ArgumentException("string contains a NUL character");
            int n = Strict.GetByteCount(s);
            byte[] b = new byte[n + 1];
            Strict.GetBytes(s, 0, s.Length, b, 0);
            return b; // b[n] == 0
        }

        /// <summary>UTF-8 bytes without a NUL (for pwa_message_from_json with its length).</summary>
        internal static byte[] EncodeNoNul(string s)
        {
            return Strict.GetBytes(s);
        }

        /// <summary>Reads the NUL-terminated UTF-8 string at p; IntPtr.Zero gives null.</summary>
        internal static string Decode(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            return Decode(p, n);
        }

        /// <summary>Reads len bytes of UTF-8 at p.</summary>
        internal static string Decode(IntPtr p, int len)
        {
            if (p == IntPtr.Zero) return null;
            if (len == 0) return string.Empty;
            byte[] b = new byte[len];
            Marshal.Copy(p, b, 0, len);
            return Strict.GetString(b);
        }

        /// <summary>The string in buf up to its first NUL (or all of it).</summary>
        internal static string FromBuffer(byte[] buf)
        {
            int n = Array.IndexOf(buf, (byte)0);
            if (n < 0) n = buf.Length;
            return Strict.GetString(buf, 0, n);
        }
    }
}
