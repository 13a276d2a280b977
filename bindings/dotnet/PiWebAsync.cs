// Public .NET API over the piwebasync C ABI (see include/piwebasync.h for the full contract).
// C# 7 (Mono mcs -langversion:7) and netstandard2.0 / .NET 6+ alike; no unsafe code.
//
// Error model:
// - Failures of a call (negative statuses that are not a channel's terminal status) throw
//   PiException, whose Message is the library's message (pwa_last_error on the calling thread,
//   or pwa_channel_last_error).
// - Outcomes that are not failures are returned as a Status: Poll's TIMEOUT and the channel's
//   terminal status (CLOSED, CLOSED_ERROR, WATCHDOG_TIMEOUT, UPDATE_FAILED, or a negative code
//   such as ErrAuth when a failure ended the channel); Update's ROLLED_BACK / UPDATE_FAILED.
// - A member of a disposed Channel or ChannelConfig that calls the library throws
//   ObjectDisposedException, also a Poll or Update blocked in another thread while Dispose ran.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Threading;
using ChannelCallbacks = PiWebAsync.CallbackState<System.Action<PiWebAsync.Message>, System.Action<PiWebAsync.StateEvent>>;
using SubscriptionCallbacks = PiWebAsync.CallbackState<System.Action<PiWebAsync.Message, uint>, System.Action<PiWebAsync.SubscriptionEvent>>;

namespace PiWebAsync
{
    /// <summary>pwa_status codes. Codes are never renumbered; an unknown code still casts.</summary>
    public enum Status
    {
        Ok = 0,
        Timeout = 1,
        Closed = 2,
        ClosedError = 3,
        WatchdogTimeout = 4,
        UpdateFailed = 5,
        RolledBack = 6,
        ErrInvalidArgument = -1,
        ErrInvalidHandle = -2,
        ErrBufferTooSmall = -3,
        ErrConnect = -10,
        ErrTls = -11,
        ErrAuth = -12,
        ErrHttpStatus = -13,
        ErrOpenTimeout = -14,
        ErrProtocol = -15,
        ErrRecursiveCall = -20,
        ErrBusy = -21,
        ErrShutdown = -30,
        ErrPanic = -31,
        ErrInternal = -32,
        ErrLimit = -40,
    }

    /// <summary>PWA_STATE_*</summary>
    public enum ChannelState { Connecting = 0, Open = 1, Reconnecting = 2, Closing = 3, Closed = 4 }

    /// <summary>PWA_EVENT_*</summary>
    public enum EventKind
    {
        Connected = 1, Disconnected = 2, Reconnecting = 3, Reconnected = 4, Updated = 5,
        RolledBack = 6, Closed = 7, BackfillStarted = 8, BackfillDone = 9, BackfillFailed = 10,
    }

    /// <summary>PWA_VALUE_*</summary>
    public enum ValueKind { Null = 0, Double = 1, Int64 = 2, String = 3, Bool = 4, Digital = 5, Other = 6 }

    /// <summary>PWA_LOG_*</summary>
    public enum LogLevel { Off = 0, Error = 1, Warn = 2, Info = 3, Debug = 4, Trace = 5 }

    /// <summary>PWA_WEBID_TYPE_*</summary>
    public enum WebIdType { Default = 0, Full = 1, IdOnly = 2, PathOnly = 3, LocalIdOnly = 4, DefaultIdOnly = 5 }

    /// <summary>A failed call. Status is the negative pwa_status; Message the library's text.</summary>
    public class PiException : Exception
    {
        public int Status { get; private set; }
        public string StatusName { get; private set; }
        public PiWebAsync.Status Code { get { return (PiWebAsync.Status)Status; } }

        public PiException(int status, string message)
            : base(string.IsNullOrEmpty(message) ? PiWebApi.StatusDescription(status) : message)
        {
            Status = status;
            StatusName = PiWebApi.StatusName(status);
        }

        public override string ToString()
        {
            return StatusName + " (" + Status + "): " + base.ToString();
        }
    }

    /// <summary>Library-wide calls.</summary>
    public static class PiWebApi
    {
        /// <summary>Version of the loaded native library, e.g. "0.1.0".</summary>
        public static string Version { get { Native.EnsureLoaded(); return Utf8.Decode(Native.pwa_version()); } }

        /// <summary>The version of the header this binding mirrors.</summary>
        public static readonly Version BindingVersion =
            new Version(Native.PWA_VERSION_MAJOR, Native.PWA_VERSION_MINOR, Native.PWA_VERSION_PATCH);

        /// <summary>"PWA_CLOSED", ... ("PWA_UNKNOWN" for unknown codes).</summary>
        public static string StatusName(int code) { Native.EnsureLoaded(); return Utf8.Decode(Native.pwa_status_name(code)); }
        public static string StatusName(Status code) { return StatusName((int)code); }

        /// <summary>The library's description of a status code.</summary>
        public static string StatusDescription(int code) { Native.EnsureLoaded(); return Utf8.Decode(Native.pwa_status_str(code)); }

        /// <summary>"DOUBLE", ... ("UNKNOWN" for others).</summary>
        public static string ValueKindName(int kind) { Native.EnsureLoaded(); return Utf8.Decode(Native.pwa_value_kind_name(kind)); }

        /// <summary>pwa_runtime_configure: only before the first Channel.Open.</summary>
        public static void ConfigureRuntime(int workerThreads)
        {
            Native.EnsureLoaded();
            if (workerThreads <= 0) throw new ArgumentOutOfRangeException("workerThreads");
            Check(Native.pwa_runtime_configure((uint)workerThreads));
        }

        /// <summary>pwa_shutdown: closes every channel, stops the runtime; irreversible.
        /// Returns the status (PWA_OK). Channels must still be disposed.</summary>
        public static Status Shutdown(int timeoutMs)
        {
            Native.EnsureLoaded();
            int st = Native.pwa_shutdown(timeoutMs);
            if (st < 0) throw Error(st);
            return (Status)st;
        }

        // Kept in static fields: the native side holds a pointer to the trampoline.
        private static readonly Native.pwa_log_cb LogTrampoline = OnLogNative;
        private static volatile Action<LogLevel, string> logHandler;
        private static readonly object LogLock = new object();

        /// <summary>Sends the library's log lines at level and above to handler (on the
        /// library's log thread); null or LogLevel.Off stops logging. Exceptions thrown by
        /// handler are swallowed.</summary>
        public static void SetLogCallback(LogLevel level, Action<LogLevel, string> handler)
        {
            Native.EnsureLoaded();
            lock (LogLock)
            {
                if (handler == null || level == LogLevel.Off)
                {
                    Check(Native.pwa_set_log_callback(Native.PWA_LOG_OFF, null, IntPtr.Zero));
                    logHandler = null;
                    return;
                }
                logHandler = handler;
                Check(Native.pwa_set_log_callback((int)level, LogTrampoline, IntPtr.Zero));
            }
        }

        private static void OnLogNative(IntPtr userData, int level, IntPtr line)
        {
            try
            {
                Action<LogLevel, string> h = logHandler;
                if (h != null) h((LogLevel)level, Utf8.Decode(line));
            }
            catch
            {
                // Never unwind into native code.
            }
        }

        // ---- helpers shared by the binding ----

        /// <summary>The message of the last failed call on this thread.</summary>
        internal static string ThreadLastError()
        {
            for (int attempt = 0; attempt < 4; attempt++)
            {
                UIntPtr needed;
                Native.pwa_last_error(null, UIntPtr.Zero, out needed);
                ulong n = needed.ToUInt64();
                if (n <= 1) return string.Empty;
                byte[] buf = new byte[n];
                int st = Native.pwa_last_error(buf, new UIntPtr(n), out needed);
                if (st == Native.PWA_OK) return Utf8.FromBuffer(buf);
            }
            return string.Empty;
        }

        internal static PiException Error(int status)
        {
            return new PiException(status, ThreadLastError());
        }

        internal static void Check(int status)
        {
            if (status != Native.PWA_OK) throw Error(status);
        }

        internal static int ToInt(UIntPtr n)
        {
            return checked((int)n.ToUInt64());
        }
    }

    /// <summary>A channel configuration (pwa_config). Keys and defaults: see pwa_config_set in
    /// the header. Open copies it: it may be disposed right after.</summary>
    public sealed class ChannelConfig : IDisposable
    {
        internal readonly ConfigHandle Handle;

        public ChannelConfig()
        {
            Native.EnsureLoaded();
            Handle = Native.pwa_config_new();
            if (Handle == null || Handle.IsInvalid)
                throw new PiException(Native.PWA_ERR_PANIC, "pwa_config_new returned NULL");
        }

        /// <summary>Sets key to value; PiException (ErrInvalidArgument, the message names the
        /// key) for an unknown key or bad value, leaving the configuration unchanged.</summary>
        public ChannelConfig Set(string key, string value)
        {
            if (key == null) throw new ArgumentNullException("key");
            if (value == null) throw new ArgumentNullException("value");
            if (Handle.IsClosed) throw new ObjectDisposedException("ChannelConfig");
            int st = Native.pwa_config_set(Handle, Utf8.Encode(key), Utf8.Encode(value));
            if (st != Native.PWA_OK) throw PiWebApi.Error(st);
            return this;
        }

        public ChannelConfig Set(string key, bool value) { return Set(key, value ? "true" : "false"); }

        /// <summary>Numbers (durations in seconds, sizes) in invariant culture.</summary>
        public ChannelConfig Set(string key, double value)
        {
            return Set(key, value.ToString("R", CultureInfo.InvariantCulture));
        }

        public ChannelConfig Set(string key, long value)
        {
            return Set(key, value.ToString(CultureInfo.InvariantCulture));
        }

        /// <summary>The value of key as Set takes it ("" = none); secrets come back as "***"
        /// (pwa_config_get). PiException (ErrInvalidArgument) for an unknown key.</summary>
        public string Get(string key)
        {
            if (key == null) throw new ArgumentNullException("key");
            if (Handle.IsClosed) throw new ObjectDisposedException("ChannelConfig");
            byte[] k = Utf8.Encode(key);
            UIntPtr needed;
            int st = Native.pwa_config_get(Handle, k, null, UIntPtr.Zero, out needed);
            if (st != Native.PWA_ERR_BUFFER_TOO_SMALL) throw PiWebApi.Error(st);
            byte[] buf = new byte[needed.ToUInt64()];
            st = Native.pwa_config_get(Handle, k, buf, new UIntPtr((ulong)buf.Length), out needed);
            if (st != Native.PWA_OK) throw PiWebApi.Error(st);
            return System.Text.Encoding.UTF8.GetString(buf, 0, buf.Length - 1);
        }

        /// <summary>Every configuration key with its kind, default and meaning
        /// (pwa_config_key).</summary>
        public static ConfigKey[] Keys
        {
            get
            {
                int n = (int)Native.pwa_config_key_count().ToUInt64();
                ConfigKey[] keys = new ConfigKey[n];
                for (int i = 0; i < n; i++)
                {
                    Native.pwa_config_key_info k;
                    int st = Native.pwa_config_key(new UIntPtr((uint)i), out k);
                    if (st != Native.PWA_OK) throw PiWebApi.Error(st);
                    keys[i] = new ConfigKey(Utf8.Decode(k.name), Utf8.Decode(k.kind),
                        Utf8.Decode(k.default_value), Utf8.Decode(k.doc), k.is_secret != 0);
                }
                return keys;
            }
        }

        /// <summary>Frees the native configuration (secrets in it are wiped).</summary>
        public void Dispose() { Handle.Dispose(); }
    }

    /// <summary>A configuration key as the library describes it (pwa_config_key).</summary>
    public sealed class ConfigKey
    {
        public string Name { get; private set; }
        public string Kind { get; private set; }
        public string DefaultValue { get; private set; }
        public string Doc { get; private set; }
        public bool IsSecret { get; private set; }

        internal ConfigKey(string name, string kind, string defaultValue, string doc, bool isSecret)
        {
            Name = name; Kind = kind; DefaultValue = defaultValue; Doc = doc; IsSecret = isSecret;
        }
    }

    /// <summary>Counters of a channel (pwa_stats).</summary>
    public sealed class ChannelStats
    {
        public ulong Messages { get; internal set; }
        public ulong Bytes { get; internal set; }
        public ulong Reconnects { get; internal set; }
        public ulong Updates { get; internal set; }
        public ulong QueueDepth { get; internal set; }
        /// <summary>Bytes of message text waiting in the queue (bounded by max_queue_bytes).</summary>
        public ulong QueueBytes { get; internal set; }
        /// <summary>Messages discarded because the server did not answer a close in time.</summary>
        public ulong MessagesDropped { get; internal set; }
        /// <summary>Arrival of the last message, ns since the Unix epoch; 0 = none yet.</summary>
        public long LastMessageUnixNs { get; internal set; }
        public DateTime? LastMessageUtc
        {
            get { return LastMessageUnixNs == 0 ? (DateTime?)null : Message.UnixNsToDateTime(LastMessageUnixNs); }
        }
    }

    /// <summary>A state event (pwa_state_event), copied out of the callback.</summary>
    public sealed class StateEvent
    {
        public EventKind Kind { get; internal set; }
        /// <summary>DISCONNECTED, ROLLED_BACK: the cause; CLOSED: the terminal status; else Ok.</summary>
        public Status Status { get; internal set; }
        public string StatusName { get { return PiWebApi.StatusName((int)Status); } }
        /// <summary>RECONNECTING: attempt number from 1.</summary>
        public uint Attempt { get; internal set; }
        /// <summary>RECONNECTING: delay before the attempt.</summary>
        public ulong DelayMs { get; internal set; }
        /// <summary>CONNECTED, RECONNECTED, UPDATED: the endpoint ("" otherwise).</summary>
        public string Url { get; internal set; }
        /// <summary>DISCONNECTED, ROLLED_BACK, CLOSED, BACKFILL_FAILED: why; BACKFILL_DONE: what
        /// a bound cut (the header's `message`; "" otherwise).</summary>
        public string Reason { get; internal set; }
        /// <summary>BACKFILL_STARTED: the streams; BACKFILL_DONE, BACKFILL_FAILED: the values
        /// delivered.</summary>
        public ulong Count { get; internal set; }
        /// <summary>BACKFILL_DONE, BACKFILL_FAILED: what was not recovered (empty when
        /// nothing).</summary>
        public IReadOnlyList<MissingRange> Missing { get; internal set; }

        internal static StateEvent Copy(IntPtr p)
        {
            Native.pwa_state_event e = Marshal.PtrToStructure<Native.pwa_state_event>(p);
            StateEvent s = new StateEvent();
            s.Kind = (EventKind)e.kind;
            s.Status = (Status)e.status;
            s.Attempt = e.attempt;
            s.DelayMs = e.delay_ms;
            s.Url = Utf8.Decode(e.url) ?? string.Empty;
            s.Reason = Utf8.Decode(e.message) ?? string.Empty;
            s.Count = e.count;
            int n = PiWebApi.ToInt(e.missing_count);
            MissingRange[] missing = new MissingRange[n];
            int size = Marshal.SizeOf<Native.pwa_missing_range>();
            for (int i = 0; i < n; i++)
            {
                Native.pwa_missing_range r = Marshal.PtrToStructure<Native.pwa_missing_range>(
                    new IntPtr(e.missing.ToInt64() + (long)i * size));
                missing[i] = new MissingRange(
                    Utf8.Decode(r.web_id) ?? string.Empty, r.from_unix_ns, r.to_unix_ns,
                    r.from_exclusive != 0);
            }
            s.Missing = missing;
            return s;
        }

        public override string ToString()
        {
            return Kind + " " + StatusName + (Url.Length > 0 ? " " + Url : "") + (Reason.Length > 0 ? ": " + Reason : "");
        }
    }

    /// <summary>A time range of one stream a backfill did not deliver (pwa_missing_range).</summary>
    public sealed class MissingRange
    {
        /// <summary>The stream's WebId; "" for every stream of the endpoint.</summary>
        public string WebId { get; private set; }
        /// <summary>From (ns since the Unix epoch), exclusive when FromExclusive.</summary>
        public long FromUnixNs { get; private set; }
        /// <summary>Up to (ns since the Unix epoch), inclusive.</summary>
        public long ToUnixNs { get; private set; }
        public bool FromExclusive { get; private set; }

        internal MissingRange(string webId, long from, long to, bool fromExclusive)
        {
            WebId = webId;
            FromUnixNs = from;
            ToUnixNs = to;
            FromExclusive = fromExclusive;
        }

        public override string ToString()
        {
            return (WebId.Length > 0 ? WebId : "every stream") + " " + (FromExclusive ? "(" : "[")
                + FromUnixNs + ", " + ToUnixNs + "]";
        }
    }

    /// <summary>One stream of a message (pwa_stream_info), fully copied.</summary>
    public sealed class StreamInfo
    {
        public int Index { get; internal set; }
        public string WebId { get; internal set; }
        public string Name { get; internal set; }
        public string Path { get; internal set; }
        public string Units { get; internal set; }
        public int FirstValue { get; internal set; }
        public int ValueCount { get; internal set; }
        public bool HasWebException { get; internal set; }
        public int WebExceptionStatus { get; internal set; }
        public IReadOnlyList<string> WebExceptionErrors { get; internal set; }
        /// <summary>This stream's values (a slice of Message.Values).</summary>
        public IReadOnlyList<Value> Values { get; internal set; }
    }

    /// <summary>One value (pwa_value), fully copied.</summary>
    public sealed class Value
    {
        public int StreamIndex { get; internal set; }
        public StreamInfo Stream { get; internal set; }
        /// <summary>Nanoseconds since 1970-01-01T00:00:00Z; 0 when !TimestampValid.</summary>
        public long TimestampNs { get; internal set; }
        public bool TimestampValid { get; internal set; }
        /// <summary>The timestamp as a UTC DateTime (100 ns resolution); null when invalid.</summary>
        public DateTime? TimestampUtc
        {
            get { return TimestampValid ? Message.UnixNsToDateTime(TimestampNs) : (DateTime?)null; }
        }
        /// <summary>The Timestamp as sent ("" when missing).</summary>
        public string TimestampText { get; internal set; }
        public ValueKind Kind { get; internal set; }
        public string KindName { get { return PiWebApi.ValueKindName((int)Kind); } }
        /// <summary>DOUBLE; INT64 as double; BOOL 0/1; DIGITAL the code; otherwise NaN.</summary>
        public double Number { get; internal set; }
        /// <summary>INT64; DOUBLE truncated; BOOL 0/1; DIGITAL the code; otherwise 0.</summary>
        public long Integer { get; internal set; }
        /// <summary>STRING; DIGITAL state name; OTHER its JSON; numbers in shortest form; BOOL "true"/"false"; NULL "".</summary>
        public string Text { get; internal set; }
        public string Units { get; internal set; }
        public bool Good { get; internal set; }
        public bool Questionable { get; internal set; }
        public bool Substituted { get; internal set; }
        public bool Annotated { get; internal set; }
        /// <summary>DIGITAL: the state's IsSystem.</summary>
        public bool IsSystem { get; internal set; }
        /// <summary>"FieldName: message; message" per line.</summary>
        public IReadOnlyList<string> Errors { get; internal set; }
        public int ErrorCount { get; internal set; }
        public bool HasWebException { get; internal set; }
        public int WebExceptionStatus { get; internal set; }
        public IReadOnlyList<string> WebExceptionErrors { get; internal set; }
    }

    /// <summary>A message with everything copied out of the native pwa_message (which the
    /// binding frees at once).</summary>
    public sealed class Message
    {
        private static readonly string[] NoLines = new string[0];
        private static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        /// <summary>The JSON text exactly as sent (unless IsRewritten).</summary>
        public string Json { get; private set; }
        /// <summary>Recorded values a backfill fetched after a reconnect or an update
        /// (gap_fill), delivered before the live values that arrived meanwhile.</summary>
        public bool IsBackfilled { get; private set; }
        /// <summary>Json is the library's rendering of the content, not the frame as sent
        /// (every backfilled message; a live message from which values already delivered were
        /// taken out at a seam).</summary>
        public bool IsRewritten { get; private set; }
        /// <summary>The channel URL it arrived on (password shown as ***); "" for FromJson.</summary>
        public string Url { get; private set; }
        public bool IsHeartbeat { get; private set; }
        public bool IsUnparsable { get; private set; }
        public string ParseError { get; private set; }
        public bool HasWebException { get; private set; }
        public int WebExceptionStatus { get; private set; }
        public IReadOnlyList<string> WebExceptionErrors { get; private set; }
        public IReadOnlyList<StreamInfo> Streams { get; private set; }
        /// <summary>Values of all streams, in stream order (Value.Stream tells whose).</summary>
        public IReadOnlyList<Value> Values { get; private set; }

        private Message() { }

        /// <summary>A message parsed from JSON text as if received (pwa_message_from_json).</summary>
        public static Message FromJson(string json)
        {
            Native.EnsureLoaded();
            if (json == null) throw new ArgumentNullException("json");
            byte[] b = Utf8.EncodeNoNul(json);
            IntPtr msg;
            int st = Native.pwa_message_from_json(b, new UIntPtr((ulong)b.Length), out msg);
            if (st != Native.PWA_OK) throw PiWebApi.Error(st);
            try { return Copy(msg); }
            finally { Native.pwa_message_free(msg); }
        }

        /// <summary>ns since the Unix epoch to a UTC DateTime (rounded down to 100 ns).</summary>
        public static DateTime UnixNsToDateTime(long ns)
        {
            long ticks = ns / 100;
            if (ns % 100 < 0) ticks--; // floor for times before 1970
            return Epoch.AddTicks(ticks);
        }

        internal static IReadOnlyList<string> Lines(string s)
        {
            if (string.IsNullOrEmpty(s)) return NoLines;
            return s.Split('\n');
        }

        private static string Str(IntPtr p) { return Utf8.Decode(p) ?? string.Empty; }

        /// <summary>Copies everything out of a live native message (borrowed or owned).</summary>
        internal static Message Copy(IntPtr msg)
        {
            Message m = new Message();
            UIntPtr len;
            IntPtr json = Native.pwa_message_json(msg, out len);
            if (json == IntPtr.Zero) throw PiWebApi.Error(Native.PWA_ERR_INVALID_ARGUMENT);
            m.Json = Utf8.Decode(json, PiWebApi.ToInt(len));
            m.Url = Str(Native.pwa_message_url(msg));

            Native.pwa_message_info info;
            PiWebApi.Check(Native.pwa_message_get_info(msg, out info));
            m.IsHeartbeat = info.is_heartbeat != 0;
            m.IsUnparsable = info.is_unparsable != 0;
            m.IsBackfilled = info.is_backfilled != 0;
            m.IsRewritten = info.is_rewritten != 0;
            m.ParseError = Str(info.parse_error);
            m.HasWebException = info.has_web_exception != 0;
            m.WebExceptionStatus = info.web_exception_status;
            m.WebExceptionErrors = Lines(Str(info.web_exception_errors));

            int nStreams = PiWebApi.ToInt(info.stream_count);
            int nValues = PiWebApi.ToInt(info.value_count);
            StreamInfo[] streams = new StreamInfo[nStreams];
            Value[] values = new Value[nValues];
            for (int i = 0; i < nStreams; i++)
            {
                Native.pwa_stream_info si;
                PiWebApi.Check(Native.pwa_message_stream(msg, new UIntPtr((uint)i), out si));
                StreamInfo s = new StreamInfo();
                s.Index = i;
                s.WebId = Str(si.web_id);
                s.Name = Str(si.name);
                s.Path = Str(si.path);
                s.Units = Str(si.units);
                s.WebExceptionErrors = Lines(Str(si.web_exception_errors));
                s.FirstValue = PiWebApi.ToInt(si.first_value);
                s.ValueCount = PiWebApi.ToInt(si.value_count);
                s.HasWebException = si.has_web_exception != 0;
                s.WebExceptionStatus = si.web_exception_status;
                streams[i] = s;
            }
            for (int k = 0; k < nValues; k++)
            {
                Native.pwa_value v;
                PiWebApi.Check(Native.pwa_message_value(msg, new UIntPtr((uint)k), out v));
                Value x = new Value();
                x.TimestampNs = v.timestamp_ns;
                x.Number = v.number;
                x.Integer = v.integer;
                x.Text = Str(v.text);
                x.Units = Str(v.units);
                x.TimestampText = Str(v.timestamp_text);
                x.Errors = Lines(Str(v.errors));
                x.WebExceptionErrors = Lines(Str(v.web_exception_errors));
                x.StreamIndex = PiWebApi.ToInt(v.stream_index);
                x.Kind = (ValueKind)v.kind;
                x.TimestampValid = v.timestamp_valid != 0;
                x.Good = v.good != 0;
                x.Questionable = v.questionable != 0;
                x.Substituted = v.substituted != 0;
                x.Annotated = v.annotated != 0;
                x.IsSystem = v.is_system != 0;
                x.ErrorCount = v.error_count;
                x.HasWebException = v.has_web_exception != 0;
                x.WebExceptionStatus = v.web_exception_status;
                if (x.StreamIndex >= 0 && x.StreamIndex < nStreams) x.Stream = streams[x.StreamIndex];
                values[k] = x;
            }
            foreach (StreamInfo s in streams)
            {
                Value[] slice = new Value[s.ValueCount];
                Array.Copy(values, s.FirstValue, slice, 0, s.ValueCount);
                s.Values = slice;
            }
            m.Streams = streams;
            m.Values = values;
            return m;
        }
    }

    /// <summary>Query parameters of a channel URL (pwa_url_options); defaults write nothing.</summary>
    public sealed class UrlOptions
    {
        public string NameFilter { get; set; }
        public string CategoryName { get; set; }
        public string TemplateName { get; set; }
        public bool IncludeInitialValues { get; set; }
        public int HeartbeatRate { get; set; }
        public WebIdType WebIdType { get; set; }
        public bool SearchFullHierarchy { get; set; }
        public bool ShowExcluded { get; set; }
        public bool ShowHidden { get; set; }
    }

    /// <summary>Channel URL builders (pwa_url_*).</summary>
    public static class Urls
    {
        private delegate int Builder(ref Native.pwa_url_options o, byte[] buf, UIntPtr cap, out UIntPtr needed);

        /// <summary>{base}/streams/{webId}/channel?...</summary>
        public static string Stream(string baseUrl, string webId, UrlOptions options = null)
        {
            byte[] b = Utf8.Encode(baseUrl), w = Utf8.Encode(webId);
            return Build(options, delegate (ref Native.pwa_url_options o, byte[] buf, UIntPtr cap, out UIntPtr needed)
            { return Native.pwa_url_stream(b, w, ref o, buf, cap, out needed); });
        }

        /// <summary>{base}/streamsets/{webId}/channel?...</summary>
        public static string StreamSet(string baseUrl, string webId, UrlOptions options = null)
        {
            byte[] b = Utf8.Encode(baseUrl), w = Utf8.Encode(webId);
            return Build(options, delegate (ref Native.pwa_url_options o, byte[] buf, UIntPtr cap, out UIntPtr needed)
            { return Native.pwa_url_streamset(b, w, ref o, buf, cap, out needed); });
        }

        /// <summary>One ad hoc URL {base}/streamsets/channel?webId=A&amp;webId=B...</summary>
        public static string Adhoc(string baseUrl, IEnumerable<string> webIds, UrlOptions options = null)
        {
            byte[] b = Utf8.Encode(baseUrl), w = Utf8.Encode(string.Join(",", webIds));
            return Build(options, delegate (ref Native.pwa_url_options o, byte[] buf, UIntPtr cap, out UIntPtr needed)
            { return Native.pwa_url_adhoc(b, w, ref o, buf, cap, out needed); });
        }

        /// <summary>As few ad hoc URLs as needed, each at most maxUrlLen bytes (0 = 4096).</summary>
        public static string[] AdhocSplit(string baseUrl, IEnumerable<string> webIds, int maxUrlLen = 0,
            UrlOptions options = null)
        {
            if (maxUrlLen < 0) throw new ArgumentOutOfRangeException("maxUrlLen");
            byte[] b = Utf8.Encode(baseUrl), w = Utf8.Encode(string.Join(",", webIds));
            UIntPtr max = new UIntPtr((uint)maxUrlLen);
            string all = Build(options, delegate (ref Native.pwa_url_options o, byte[] buf, UIntPtr cap, out UIntPtr needed)
            {
                UIntPtr count;
                return Native.pwa_url_adhoc_split(b, w, ref o, max, buf, cap, out needed, out count);
            });
            return all.Split('\n');
        }

        private static string Build(UrlOptions options, Builder call)
        {
            Native.EnsureLoaded();
            List<IntPtr> allocated = new List<IntPtr>();
            try
            {
                Native.pwa_url_options o = new Native.pwa_url_options();
                if (options != null)
                {
                    o.name_filter = Alloc(options.NameFilter, allocated);
                    o.category_name = Alloc(options.CategoryName, allocated);
                    o.template_name = Alloc(options.TemplateName, allocated);
                    o.include_initial_values = options.IncludeInitialValues ? 1 : 0;
                    o.heartbeat_rate = options.HeartbeatRate;
                    o.web_id_type = (int)options.WebIdType;
                    o.search_full_hierarchy = options.SearchFullHierarchy ? 1 : 0;
                    o.show_excluded = options.ShowExcluded ? 1 : 0;
                    o.show_hidden = options.ShowHidden ? 1 : 0;
                }
                // A first buffer that fits most URLs: the library's size query (NULL, 0) is a
                // "failed" call that overwrites this thread's pwa_last_error.
                byte[] buf = new byte[512];
                UIntPtr needed;
                int st = call(ref o, buf, new UIntPtr((ulong)buf.Length), out needed);
                if (st == Native.PWA_ERR_BUFFER_TOO_SMALL)
                {
                    buf = new byte[needed.ToUInt64()];
                    st = call(ref o, buf, new UIntPtr((ulong)buf.Length), out needed);
                }
                if (st != Native.PWA_OK) throw PiWebApi.Error(st);
                return Utf8.FromBuffer(buf);
            }
            finally
            {
                foreach (IntPtr p in allocated) Marshal.FreeHGlobal(p);
            }
        }

        private static IntPtr Alloc(string s, List<IntPtr> allocated)
        {
            if (s == null) return IntPtr.Zero;
            byte[] b = Utf8.Encode(s);
            IntPtr p = Marshal.AllocHGlobal(b.Length);
            allocated.Add(p);
            Marshal.Copy(b, 0, p, b.Length);
            return p;
        }
    }

    /// <summary>
    /// The user's delegates of a Channel or a Subscription with callbacks, and what they threw.
    /// The native user_data is a GCHandle to this object: pinned by Pin before the open, freed
    /// by Release once the native free returned (no callback runs any more) or the open failed.
    /// The static trampolines of Channel and Subscription run the user's code through Deliver,
    /// which records an exception instead of letting it unwind into native code.
    /// </summary>
    internal sealed class CallbackState<TOnMessage, TOnState>
        where TOnMessage : class
        where TOnState : class
    {
        internal readonly TOnMessage OnMessage;
        internal readonly TOnState OnState;
        private GCHandle handle;
        private long exceptionCount;
        private volatile Exception lastException;
        private int released;

        internal CallbackState(TOnMessage onMessage, TOnState onState)
        {
            OnMessage = onMessage;
            OnState = onState;
        }

        /// <summary>How many times a user callback threw.</summary>
        internal long ExceptionCount { get { return Interlocked.Read(ref exceptionCount); } }

        /// <summary>The last exception a user callback threw, or null.</summary>
        internal Exception LastException { get { return lastException; } }

        /// <summary>The user_data for the native open: this object, kept alive until Release.</summary>
        internal IntPtr Pin()
        {
            handle = GCHandle.Alloc(this, GCHandleType.Normal);
            return GCHandle.ToIntPtr(handle);
        }

        /// <summary>Only when no callback runs any more: after the native free returned, or
        /// after a failed open. Safe to call twice.</summary>
        internal void Release()
        {
            if (Interlocked.Exchange(ref released, 1) == 0 && handle.IsAllocated) handle.Free();
        }

        /// <summary>After the native free returned st: OK (or a handle the library no longer
        /// knows) means no callback runs any more. Any other status (a bug: ErrPanic) leaves
        /// the delegates referenced, so a late callback still finds them.</summary>
        internal static void ReleaseAfterFree(CallbackState<TOnMessage, TOnState> cb, int st)
        {
            if (cb != null && (st == Native.PWA_OK || st == Native.PWA_ERR_INVALID_HANDLE)) cb.Release();
        }

        /// <summary>The native free of h on a thread-pool thread (from inside a callback, where
        /// the library refuses the blocking free, or from a finalizer), then ReleaseAfterFree.</summary>
        internal static void FreeLater(Func<ulong, int> free, ulong h, CallbackState<TOnMessage, TOnState> cb)
        {
            ThreadPool.QueueUserWorkItem(delegate
            {
                try
                {
                    ReleaseAfterFree(cb, free(h));
                }
                catch
                {
                    // nothing sensible to do on a pool thread
                }
            });
        }

        /// <summary>Runs run(state, a, b) for the native callback with user_data userData;
        /// whatever it throws (copying the native data included) is recorded.</summary>
        internal static void Deliver<TA, TB>(IntPtr userData, TA a, TB b,
            Action<CallbackState<TOnMessage, TOnState>, TA, TB> run)
        {
            CallbackState<TOnMessage, TOnState> cb = null;
            try
            {
                if (userData == IntPtr.Zero) return;
                cb = GCHandle.FromIntPtr(userData).Target as CallbackState<TOnMessage, TOnState>;
                if (cb != null) run(cb, a, b);
            }
            catch (Exception e)
            {
                try { if (cb != null) cb.Record(e); } catch { }
            }
        }

        /// <summary>Deliver for a callback with one argument of interest.</summary>
        internal static void Deliver<TA>(IntPtr userData, TA a, Action<CallbackState<TOnMessage, TOnState>, TA> run)
        {
            Deliver(userData, a, run, (cb, x, r) => r(cb, x));
        }

        private void Record(Exception e)
        {
            Interlocked.Increment(ref exceptionCount);
            lastException = e;
        }
    }

    /// <summary>
    /// A channel (pwa_channel_t). Dispose frees it (pwa_channel_free: closes, discards what is
    /// buffered, runs the CLOSED callback, waits for a running callback). After Dispose every
    /// member that calls the library (Poll, Update, Close, State, Stats, LastError, Set*)
    /// throws ObjectDisposedException; Handle is then 0, and the callback exception counters
    /// stay readable.
    ///
    /// Callbacks run on the channel's own callback thread. Exceptions thrown by them are caught
    /// (never unwound into native code) and counted: CallbackExceptionCount,
    /// LastCallbackException. The delegates stay referenced until pwa_channel_free returned.
    /// Dispose from inside a callback cannot block (the library refuses pwa_channel_free
    /// there): it then closes the channel and frees it on a thread-pool thread, so callbacks
    /// may still run (ending with CLOSED) after such a Dispose returns.
    ///
    /// A Channel that is never disposed is closed by its finalizer and freed on the thread
    /// pool; do not rely on it: Dispose.
    /// </summary>
    public sealed class Channel : IDisposable
    {
        private long handle; // pwa_channel_t; 0 once disposed
        private readonly ChannelCallbacks callbacks; // null in poll mode

        private Channel(ulong h, ChannelCallbacks cb)
        {
            handle = (long)h;
            callbacks = cb;
        }

        /// <summary>The native handle (0 after Dispose).</summary>
        public ulong Handle { get { return (ulong)Volatile.Read(ref handle); } }

        /// <summary>Opens a channel in poll mode; blocks until connected (open_timeout).
        /// Throws PiException (ErrConnect, ErrAuth, ErrHttpStatus, ErrOpenTimeout, ...).</summary>
        public static Channel Open(string url, ChannelConfig config = null)
        {
            return OpenCore(url, config, null);
        }

        /// <summary>Opens a channel that delivers messages to onMessage (null: poll mode) and
        /// state events to onState (null: none), on the channel's callback thread, in order.
        /// Messages are copied before onMessage sees them.</summary>
        public static Channel Open(string url, ChannelConfig config, Action<Message> onMessage,
            Action<StateEvent> onState)
        {
            if (onMessage == null && onState == null) return OpenCore(url, config, null);
            return OpenCore(url, config, new ChannelCallbacks(onMessage, onState));
        }

        private static Channel OpenCore(string url, ChannelConfig config, ChannelCallbacks cb)
        {
            Native.EnsureLoaded();
            if (url == null) throw new ArgumentNullException("url");
            byte[] u = Utf8.Encode(url);
            bool addRef = false;
            bool opened = false;
            try
            {
                IntPtr cfg = IntPtr.Zero;
                if (config != null)
                {
                    if (config.Handle.IsClosed) throw new ObjectDisposedException("ChannelConfig");
                    config.Handle.DangerousAddRef(ref addRef);
                    cfg = config.Handle.DangerousGetHandle();
                }
                ulong h;
                int st;
                if (cb == null)
                {
                    st = Native.pwa_channel_open_nocb(u, cfg, IntPtr.Zero, out h);
                }
                else
                {
                    Native.pwa_callbacks c = new Native.pwa_callbacks();
                    c.on_message = cb.OnMessage != null ? MessageTrampolinePtr : IntPtr.Zero;
                    c.on_state = cb.OnState != null ? StateTrampolinePtr : IntPtr.Zero;
                    c.user_data = cb.Pin();
                    st = Native.pwa_channel_open(u, cfg, ref c, out h);
                }
                if (st != Native.PWA_OK) throw PiWebApi.Error(st);
                opened = true;
                return new Channel(h, cb);
            }
            finally
            {
                if (addRef) config.Handle.DangerousRelease();
                // On failure no callback ran and none will: release the delegates now.
                if (!opened && cb != null) cb.Release();
            }
        }

        /// <summary>
        /// Takes the next message: Status.Ok with msg set; Status.Timeout; or, once the channel
        /// ended and its buffer is drained, its terminal status (Closed, ClosedError,
        /// WatchdogTimeout, UpdateFailed, or the failure that ended it, e.g. ErrAuth), again on
        /// every later call. timeoutMs 0 returns at once, negative waits without limit.
        /// Throws PiException for misuse (ErrBusy: another thread polls; ErrInvalidArgument:
        /// the channel has onMessage; ErrRecursiveCall), ObjectDisposedException after Dispose.
        /// </summary>
        public Status Poll(int timeoutMs, out Message msg)
        {
            msg = null;
            ulong h = Live();
            IntPtr p;
            int st = Native.pwa_channel_poll_next(h, timeoutMs, out p);
            if (st == Native.PWA_OK)
            {
                try { msg = Message.Copy(p); }
                finally { Native.pwa_message_free(p); }
                return Status.Ok;
            }
            return StatusOrThrow(h, st);
        }

        /// <summary>
        /// Switches the channel to url, make-before-break. Returns Ok; RolledBack (new endpoint
        /// failed, rollback on: the channel goes on); UpdateFailed (it failed, rollback off: the
        /// channel closes); or the channel's terminal status if it had already ended. Throws
        /// PiException for a malformed url (channel unaffected), ErrBusy, ErrRecursiveCall.
        /// </summary>
        public Status Update(string url, bool rollback = true)
        {
            if (url == null) throw new ArgumentNullException("url");
            ulong h = Live();
            int st = Native.pwa_channel_update(h, Utf8.Encode(url), rollback ? 1 : 0);
            if (st == Native.PWA_OK) return Status.Ok;
            return StatusOrThrow(h, st);
        }

        /// <summary>Holds back (true) or resumes (false) the channel's callbacks, for a callback
        /// whose consumer is full: pause and return instead of blocking (with
        /// callback_thread=shared a blocking callback stalls every channel on that thread).
        /// Nothing is dropped: the queue fills, then the socket is not read. Callable inside
        /// callbacks.</summary>
        public void PauseDelivery(bool paused)
        {
            ulong h = Live();
            int st = Native.pwa_channel_pause_delivery(h, paused ? 1 : 0);
            if (st != Native.PWA_OK) throw Failure(h, st);
        }

        /// <summary>Asks for a graceful close and returns at once; Poll then drains what was
        /// buffered and returns Status.Closed. Idempotent until Dispose.</summary>
        public void Close()
        {
            ulong h = Live();
            int st = Native.pwa_channel_close(h);
            if (st != Native.PWA_OK) throw Failure(h, st);
        }

        public ChannelState State
        {
            get
            {
                ulong h = Live();
                int s;
                int st = Native.pwa_channel_state(h, out s);
                if (st != Native.PWA_OK) throw Failure(h, st);
                return (ChannelState)s;
            }
        }

        /// <summary>How the channel ended (its terminal status) as soon as it has — also while
        /// buffered messages are still to be polled, and in callback mode — or null while it
        /// runs (pwa_channel_outcome). Takes nothing from the queue.</summary>
        public Status? Outcome
        {
            get
            {
                ulong h = Live();
                int s;
                int st = Native.pwa_channel_outcome(h, out s);
                if (st != Native.PWA_OK) throw Failure(h, st);
                return s == Native.PWA_OK ? (Status?)null : (Status)s;
            }
        }

        public ChannelStats Stats
        {
            get
            {
                ulong h = Live();
                Native.pwa_stats s;
                int st = Native.pwa_channel_stats(h, out s);
                if (st != Native.PWA_OK) throw Failure(h, st);
                ChannelStats r = new ChannelStats();
                r.Messages = s.messages;
                r.Bytes = s.bytes;
                r.Reconnects = s.reconnects;
                r.Updates = s.updates;
                r.QueueDepth = s.queue_depth;
                r.LastMessageUnixNs = s.last_message_unix_ns;
                r.QueueBytes = s.queue_bytes;
                r.MessagesDropped = s.messages_dropped;
                return r;
            }
        }

        /// <summary>The channel's own last error (why it closed, why reconnecting fails); "" if none.</summary>
        public string LastError
        {
            get
            {
                ulong h = Live();
                string s;
                int st = ChannelLastError(h, out s);
                if (st != Native.PWA_OK) throw Failure(h, st);
                return s;
            }
        }

        /// <summary>Replaces the bearer token used by the next reconnect or update.</summary>
        public void SetBearerToken(string token)
        {
            if (token == null) throw new ArgumentNullException("token");
            ulong h = Live();
            int st = Native.pwa_channel_set_bearer_token(h, Utf8.Encode(token));
            if (st != Native.PWA_OK) throw Failure(h, st);
        }

        /// <summary>Replaces the Basic password used by the next reconnect or update.</summary>
        public void SetPassword(string password)
        {
            if (password == null) throw new ArgumentNullException("password");
            ulong h = Live();
            int st = Native.pwa_channel_set_password(h, Utf8.Encode(password));
            if (st != Native.PWA_OK) throw Failure(h, st);
        }

        /// <summary>How many times a user callback threw (the exceptions were swallowed).</summary>
        public long CallbackExceptionCount
        {
            get { return callbacks == null ? 0 : callbacks.ExceptionCount; }
        }

        /// <summary>The last exception a user callback threw, or null.</summary>
        public Exception LastCallbackException
        {
            get { return callbacks == null ? null : callbacks.LastException; }
        }

        /// <summary>pwa_channel_free. Safe to call twice and from any thread; see the class
        /// remarks for a call from inside a callback.</summary>
        public void Dispose()
        {
            long h = Interlocked.Exchange(ref handle, 0);
            if (h == 0) return;
            GC.SuppressFinalize(this);
            int st = Native.pwa_channel_free((ulong)h);
            if (st == Native.PWA_ERR_RECURSIVE_CALL)
            {
                // Inside a callback (of this or another channel): close now, free elsewhere.
                Native.pwa_channel_close((ulong)h);
                ChannelCallbacks.FreeLater(Native.pwa_channel_free, (ulong)h, callbacks);
                return;
            }
            ChannelCallbacks.ReleaseAfterFree(callbacks, st);
        }

        ~Channel()
        {
            long h = Interlocked.Exchange(ref handle, 0);
            if (h == 0) return;
            // Never block the finalizer thread: close (non-blocking), free on the pool.
            Native.pwa_channel_close((ulong)h);
            if (Environment.HasShutdownStarted) return; // process exit: allowed with channels open
            ChannelCallbacks.FreeLater(Native.pwa_channel_free, (ulong)h, callbacks);
        }

        // ---- helpers ----

        private ulong Live()
        {
            long h = Volatile.Read(ref handle);
            if (h == 0) throw new ObjectDisposedException("Channel");
            return (ulong)h;
        }

        private static bool IsMisuse(int st)
        {
            return st == Native.PWA_ERR_INVALID_ARGUMENT || st == Native.PWA_ERR_INVALID_HANDLE
                || st == Native.PWA_ERR_BUFFER_TOO_SMALL || st == Native.PWA_ERR_RECURSIVE_CALL
                || st == Native.PWA_ERR_BUSY;
        }

        /// <summary>A non-OK status of Poll or Update: returned when it is not a failure of the
        /// call (positive, or the negative terminal status of an ended channel), else thrown.</summary>
        private Status StatusOrThrow(ulong h, int st)
        {
            if (st > 0) return (Status)st;
            if (!IsMisuse(st))
            {
                // A negative code is the channel's terminal status when it is the channel's
                // outcome; otherwise (e.g. ErrPanic of the call itself) a failure of the call.
                int outcome;
                if (Native.pwa_channel_outcome(h, out outcome) == Native.PWA_OK && outcome == st)
                    return (Status)st;
            }
            throw Failure(h, st);
        }

        private Exception Failure(ulong h, int st)
        {
            string msg = PiWebApi.ThreadLastError();
            if (st == Native.PWA_ERR_INVALID_HANDLE && Volatile.Read(ref handle) == 0)
                return new ObjectDisposedException("Channel", "the channel was disposed: " + msg);
            if (msg.Length == 0)
            {
                string chan;
                if (ChannelLastError(h, out chan) == Native.PWA_OK) msg = chan;
            }
            return new PiException(st, msg);
        }

        private static int ChannelLastError(ulong h, out string text)
        {
            text = string.Empty;
            for (int attempt = 0; attempt < 8; attempt++)
            {
                UIntPtr needed;
                int st = Native.pwa_channel_last_error(h, null, UIntPtr.Zero, out needed);
                if (st != Native.PWA_OK && st != Native.PWA_ERR_BUFFER_TOO_SMALL) return st;
                ulong n = needed.ToUInt64();
                if (n <= 1) return Native.PWA_OK;
                byte[] buf = new byte[n];
                st = Native.pwa_channel_last_error(h, buf, new UIntPtr(n), out needed);
                if (st == Native.PWA_OK) { text = Utf8.FromBuffer(buf); return st; }
                if (st != Native.PWA_ERR_BUFFER_TOO_SMALL) return st;
                // it grew meanwhile: try again
            }
            return Native.PWA_ERR_BUFFER_TOO_SMALL;
        }

        // ---- callbacks ----

        // Static delegates: never collected, so the function pointers stay valid for the process.
        private static readonly Native.pwa_message_cb MessageTrampoline = OnMessageNative;
        private static readonly Native.pwa_state_cb StateTrampoline = OnStateNative;
        private static readonly IntPtr MessageTrampolinePtr = Marshal.GetFunctionPointerForDelegate<Native.pwa_message_cb>(MessageTrampoline);
        private static readonly IntPtr StateTrampolinePtr = Marshal.GetFunctionPointerForDelegate<Native.pwa_state_cb>(StateTrampoline);

        private static void OnMessageNative(IntPtr userData, ulong channel, IntPtr message)
        {
            // The native message is borrowed: copy it before user code sees it.
            ChannelCallbacks.Deliver(userData, message, (cb, m) => cb.OnMessage?.Invoke(Message.Copy(m)));
        }

        private static void OnStateNative(IntPtr userData, ulong channel, IntPtr evt)
        {
            ChannelCallbacks.Deliver(userData, evt, (cb, e) => cb.OnState?.Invoke(StateEvent.Copy(e)));
        }
    }

    /// <summary>What Subscription.Add did.</summary>
    public sealed class AddReport
    {
        public long Added { get; internal set; }
        public long Duplicates { get; internal set; }
        public long Rejected { get; internal set; }
    }

    /// <summary>A WebId the server refused, and its reason.</summary>
    public sealed class RejectedWebId
    {
        public string WebId { get; internal set; }
        public string Reason { get; internal set; }
    }

    /// <summary>Counters of a subscription set.</summary>
    public sealed class SetStats
    {
        public long Streams { get; internal set; }
        public long Shards { get; internal set; }
        public long ShardsOpen { get; internal set; }
        public long ShardsReconnecting { get; internal set; }
        public long Values { get; internal set; }
        public double ValuesPerSecond { get; internal set; }
        public long QueueDepth { get; internal set; }
        public long Rejected { get; internal set; }
    }

    /// <summary>PWA_SET_EVENT_*</summary>
    public enum SetEventKind { Shard = 1, Rejected = 2, Closed = 3 }

    /// <summary>An event of a subscription set (pwa_subscription_event), fully copied.</summary>
    public sealed class SubscriptionEvent
    {
        public SetEventKind Kind { get; private set; }
        /// <summary>Shard: the shard.</summary>
        public uint Shard { get; private set; }
        /// <summary>Shard: the shard's channel event; null otherwise.</summary>
        public StateEvent ShardEvent { get; private set; }
        /// <summary>Rejected: the WebId ("" otherwise).</summary>
        public string WebId { get; private set; }
        /// <summary>Rejected: the server's reason; Closed: why ("" otherwise).</summary>
        public string Message { get; private set; }
        /// <summary>Closed: the set's terminal status; otherwise Ok.</summary>
        public Status Status { get; private set; }

        internal static SubscriptionEvent Copy(IntPtr p)
        {
            Native.pwa_subscription_event e = Marshal.PtrToStructure<Native.pwa_subscription_event>(p);
            SubscriptionEvent s = new SubscriptionEvent();
            s.Kind = (SetEventKind)e.kind;
            s.Shard = e.shard;
            s.ShardEvent = e.shard_event == IntPtr.Zero ? null : StateEvent.Copy(e.shard_event);
            s.WebId = Utf8.Decode(e.web_id) ?? string.Empty;
            s.Message = Utf8.Decode(e.message) ?? string.Empty;
            s.Status = (Status)e.status;
            return s;
        }

        public override string ToString()
        {
            return Kind + (ShardEvent != null ? " shard " + Shard + ": " + ShardEvent : "")
                + (WebId.Length > 0 ? " " + WebId : "") + (Message.Length > 0 ? ": " + Message : "");
        }
    }

    /// <summary>One shard of a set (pwa_shard_stats).</summary>
    public sealed class ShardStats
    {
        public uint Shard { get; internal set; }
        public ChannelState State { get; internal set; }
        public long Streams { get; internal set; }
        public long Messages { get; internal set; }
        public long Values { get; internal set; }
        public long Reconnects { get; internal set; }
        public long Updates { get; internal set; }
        public long MessagesDropped { get; internal set; }
    }

    /// <summary>
    /// A subscription set (pwa_subscription_t): any number of WebIds through one handle,
    /// sharded over ad hoc channels by the library (see pwa_subscription_open in the header
    /// for the rules: each value once across changes, nothing of a removed WebId after Remove
    /// returns, refused WebIds isolated and reported with the server's reason). Poll mode, or
    /// callbacks as Channel has them: they run on a library thread, never two at once;
    /// exceptions they throw are caught and counted (CallbackExceptionCount,
    /// LastCallbackException); the delegates stay referenced until pwa_subscription_free
    /// returned. Dispose from inside a callback closes the set and frees it on a thread-pool
    /// thread (the library refuses the blocking free there).
    /// </summary>
    public sealed class Subscription : IDisposable
    {
        private long handle;
        private readonly SubscriptionCallbacks callbacks; // null in poll mode

        private Subscription(ulong h, SubscriptionCallbacks cb)
        {
            handle = (long)h;
            callbacks = cb;
        }

        public ulong Handle { get { return (ulong)Volatile.Read(ref handle); } }

        /// <summary>Opens a set on the API root in poll mode (nothing connects until Add).</summary>
        public static Subscription Open(string baseUrl, ChannelConfig config = null)
        {
            return OpenCore(baseUrl, config, null);
        }

        /// <summary>Opens a set that delivers messages to onMessage (with their shard; null:
        /// poll mode) and its events to onState (null: none). Messages are copied before
        /// onMessage sees them.</summary>
        public static Subscription Open(string baseUrl, ChannelConfig config,
            Action<Message, uint> onMessage, Action<SubscriptionEvent> onState)
        {
            if (onMessage == null && onState == null) return OpenCore(baseUrl, config, null);
            return OpenCore(baseUrl, config, new SubscriptionCallbacks(onMessage, onState));
        }

        private static Subscription OpenCore(string baseUrl, ChannelConfig config, SubscriptionCallbacks cb)
        {
            Native.EnsureLoaded();
            if (baseUrl == null) throw new ArgumentNullException("baseUrl");
            bool addRef = false;
            bool opened = false;
            try
            {
                IntPtr cfg = IntPtr.Zero;
                if (config != null)
                {
                    if (config.Handle.IsClosed) throw new ObjectDisposedException("ChannelConfig");
                    config.Handle.DangerousAddRef(ref addRef);
                    cfg = config.Handle.DangerousGetHandle();
                }
                ulong h;
                int st;
                if (cb == null)
                {
                    st = Native.pwa_subscription_open(Utf8.Encode(baseUrl), cfg, IntPtr.Zero,
                        IntPtr.Zero, out h);
                }
                else
                {
                    Native.pwa_subscription_callbacks c = new Native.pwa_subscription_callbacks();
                    c.on_message = cb.OnMessage != null ? MessageTrampolinePtr : IntPtr.Zero;
                    c.on_state = cb.OnState != null ? StateTrampolinePtr : IntPtr.Zero;
                    c.user_data = cb.Pin();
                    st = Native.pwa_subscription_open(Utf8.Encode(baseUrl), cfg, IntPtr.Zero,
                        ref c, out h);
                }
                PiWebApi.Check(st);
                opened = true;
                return new Subscription(h, cb);
            }
            finally
            {
                if (addRef) config.Handle.DangerousRelease();
                // On failure no callback ran and none will: release the delegates now.
                if (!opened && cb != null) cb.Release();
            }
        }

        private ulong Live()
        {
            long h = Volatile.Read(ref handle);
            if (h == 0) throw new ObjectDisposedException("Subscription");
            return (ulong)h;
        }

        // Calls f with a C array of NUL-terminated UTF-8 copies of ids (freed afterwards).
        private static int WithIds(IList<string> ids, Func<IntPtr[], int> f)
        {
            if (ids == null) throw new ArgumentNullException("ids");
            IntPtr[] ptrs = new IntPtr[Math.Max(ids.Count, 1)];
            try
            {
                for (int i = 0; i < ids.Count; i++)
                {
                    if (ids[i] == null) throw new ArgumentNullException("ids[" + i + "]");
                    byte[] b = Utf8.Encode(ids[i]);
                    ptrs[i] = Marshal.AllocHGlobal(b.Length);
                    Marshal.Copy(b, 0, ptrs[i], b.Length);
                }
                return f(ptrs);
            }
            finally
            {
                foreach (IntPtr p in ptrs)
                    if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
        }

        /// <summary>Subscribes ids (duplicates ignored). Throws PiException (ErrLimit: more
        /// than max_channels shards would be needed, nothing added; ErrInvalidArgument).</summary>
        public AddReport Add(IList<string> ids)
        {
            ulong h = Live();
            Native.pwa_subscription_add_report r = default(Native.pwa_subscription_add_report);
            PiWebApi.Check(WithIds(ids, p => Native.pwa_subscription_add(h, p,
                new UIntPtr((uint)ids.Count), out r)));
            return new AddReport { Added = (long)r.added, Duplicates = (long)r.duplicates,
                Rejected = (long)r.rejected };
        }

        /// <summary>Unsubscribes ids; returns how many were members.</summary>
        public long Remove(IList<string> ids)
        {
            ulong h = Live();
            UIntPtr n = UIntPtr.Zero;
            PiWebApi.Check(WithIds(ids, p => Native.pwa_subscription_remove(h, p,
                new UIntPtr((uint)ids.Count), out n)));
            return (long)n.ToUInt64();
        }

        /// <summary>Status.Ok with msg and shard set; Status.Timeout; Status.Closed once the
        /// set was closed and drained. Throws PiException for misuse.</summary>
        public Status Poll(int timeoutMs, out Message msg, out uint shard)
        {
            msg = null;
            ulong h = Live();
            IntPtr p;
            int st = Native.pwa_subscription_poll_next(h, timeoutMs, out p, out shard);
            if (st == Native.PWA_OK)
            {
                try { msg = Message.Copy(p); }
                finally { Native.pwa_message_free(p); }
                return Status.Ok;
            }
            if (st > 0) return (Status)st;
            throw PiWebApi.Error(st);
        }

        public void Close() { PiWebApi.Check(Native.pwa_subscription_close(Live())); }

        public SetStats Stats
        {
            get
            {
                Native.pwa_set_stats s;
                PiWebApi.Check(Native.pwa_subscription_stats(Live(), out s));
                return new SetStats { Streams = (long)s.streams, Shards = (long)s.shards,
                    ShardsOpen = (long)s.shards_open, ShardsReconnecting = (long)s.shards_reconnecting,
                    Values = (long)s.values, ValuesPerSecond = s.values_per_second,
                    QueueDepth = (long)s.queue_depth, Rejected = (long)s.rejected };
            }
        }

        /// <summary>Every shard, in shard order.</summary>
        public List<ShardStats> ShardStats()
        {
            ulong h = Live();
            var list = new List<ShardStats>();
            long n = Stats.Shards;
            for (long i = 0; i < n; i++)
            {
                Native.pwa_shard_stats s;
                // The set may have lost a shard since Stats: the list ends there.
                if (Native.pwa_subscription_shard_stats(h, new UIntPtr((ulong)i), out s) != Native.PWA_OK) break;
                list.Add(new ShardStats { Shard = s.shard, State = (ChannelState)s.state,
                    Streams = (long)s.streams, Messages = (long)s.messages, Values = (long)s.values,
                    Reconnects = (long)s.reconnects, Updates = (long)s.updates,
                    MessagesDropped = (long)s.messages_dropped });
            }
            return list;
        }

        /// <summary>How many times a user callback threw (the exceptions were swallowed).</summary>
        public long CallbackExceptionCount
        {
            get { return callbacks == null ? 0 : callbacks.ExceptionCount; }
        }

        /// <summary>The last exception a user callback threw, or null.</summary>
        public Exception LastCallbackException
        {
            get { return callbacks == null ? null : callbacks.LastException; }
        }

        /// <summary>Every rejected WebId with the server's reason.</summary>
        public List<RejectedWebId> Rejected()
        {
            ulong h = Live();
            var list = new List<RejectedWebId>();
            long n = Stats.Rejected;
            for (long i = 0; i < n; i++)
            {
                UIntPtr wn, rn;
                Native.pwa_subscription_rejected(h, new UIntPtr((ulong)i), null, UIntPtr.Zero,
                    out wn, null, UIntPtr.Zero, out rn);
                byte[] w = new byte[(int)wn.ToUInt64()];
                byte[] r = new byte[(int)rn.ToUInt64()];
                PiWebApi.Check(Native.pwa_subscription_rejected(h, new UIntPtr((ulong)i), w,
                    new UIntPtr((uint)w.Length), out wn, r, new UIntPtr((uint)r.Length), out rn));
                list.Add(new RejectedWebId {
                    WebId = System.Text.Encoding.UTF8.GetString(w, 0, Math.Max(w.Length - 1, 0)),
                    Reason = System.Text.Encoding.UTF8.GetString(r, 0, Math.Max(r.Length - 1, 0)) });
            }
            return list;
        }

        /// <summary>pwa_subscription_free. Safe to call twice and from any thread.</summary>
        public void Dispose()
        {
            long h = Interlocked.Exchange(ref handle, 0);
            if (h == 0) return;
            int st = Native.pwa_subscription_free((ulong)h);
            if (st == Native.PWA_ERR_RECURSIVE_CALL)
            {
                // Inside a callback: close now, free elsewhere.
                Native.pwa_subscription_close((ulong)h);
                SubscriptionCallbacks.FreeLater(Native.pwa_subscription_free, (ulong)h, callbacks);
                return;
            }
            SubscriptionCallbacks.ReleaseAfterFree(callbacks, st);
        }

        // ---- callbacks ----

        // Static delegates: never collected, so the function pointers stay valid for the process.
        private static readonly Native.pwa_subscription_message_cb MessageTrampoline = OnMessageNative;
        private static readonly Native.pwa_subscription_state_cb StateTrampoline = OnStateNative;
        private static readonly IntPtr MessageTrampolinePtr = Marshal.GetFunctionPointerForDelegate<Native.pwa_subscription_message_cb>(MessageTrampoline);
        private static readonly IntPtr StateTrampolinePtr = Marshal.GetFunctionPointerForDelegate<Native.pwa_subscription_state_cb>(StateTrampoline);

        private static void OnMessageNative(IntPtr userData, ulong set, uint shard, IntPtr message)
        {
            // The native message is borrowed: copy it before user code sees it.
            SubscriptionCallbacks.Deliver(userData, message, shard, (cb, m, k) => cb.OnMessage?.Invoke(Message.Copy(m), k));
        }

        private static void OnStateNative(IntPtr userData, ulong set, IntPtr evt)
        {
            SubscriptionCallbacks.Deliver(userData, evt, (cb, e) => cb.OnState?.Invoke(SubscriptionEvent.Copy(e)));
        }
    }
}
