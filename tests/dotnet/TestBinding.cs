// Test program for bindings/dotnet, run against real simulators by scripts/test-dotnet.sh.
// No test framework: Check() prints the failure and exits 1.
//
// Usage: TestBinding.exe [ADHOC_URL_A ADHOC_URL_B BASE_A [BASE_C]]
//   or the environment that scripts/sim-lib.sh exports: SIM_ADHOC, SIM2_ADHOC, SIM_BASE,
//   SIM3_BASE (a simulator used only for fault injection: it is reset and made to refuse).
// PWA_LAYOUT: a file written by tests/dotnet/layout.c (struct sizes and offsets from the C
// compiler), compared with the P/Invoke structs; the check is skipped without it.
//
// Decision tested here: using a Channel after Dispose throws ObjectDisposedException (checked
// in managed code before any native call; a Poll blocked in another thread while Dispose
// runs gets ObjectDisposedException too, not PiException(PWA_ERR_INVALID_HANDLE)).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using PiWebAsync;

internal static class TestBinding
{
    private static string urlA, urlB, baseA, baseC, baseArchive;
    private static string currentTest = "";
    private static int passed;

    // ---- tiny check helpers ----

    private static void Fail(string message)
    {
        Console.Error.WriteLine("FAIL [" + currentTest + "]: " + message);
        Console.WriteLine("dotnet: " + passed + " passed, 1 failed");
        Console.Out.Flush();
        Console.Error.Flush();
        Environment.Exit(1);
    }

    private static void Check(bool cond, string message)
    {
        if (!cond) Fail(message);
    }

    private static void CheckEq<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            Fail(what + ": expected <" + expected + ">, got <" + actual + ">");
    }

    private static void CheckSeq(string[] expected, IReadOnlyList<string> actual, string what)
    {
        string e = string.Join(" | ", expected), a = string.Join(" | ", actual);
        if (expected.Length != actual.Count || e != a)
            Fail(what + ": expected [" + e + "] (" + expected.Length + "), got [" + a + "] (" + actual.Count + ")");
    }

    /// <summary>Runs body, which must throw T; returns the exception.</summary>
    private static T Throws<T>(Action body, string what) where T : Exception
    {
        try
        {
            body();
        }
        catch (T e)
        {
            return e;
        }
        catch (Exception e)
        {
            Fail(what + ": expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message);
        }
        Fail(what + ": expected " + typeof(T).Name + ", nothing was thrown");
        return null;
    }

    private static void Run(string name, Action body)
    {
        currentTest = name;
        Stopwatch sw = Stopwatch.StartNew();
        try
        {
            body();
        }
        catch (Exception e)
        {
            Fail("unexpected exception: " + e);
        }
        passed++;
        Console.WriteLine("ok   " + name + " (" + sw.ElapsedMilliseconds + " ms)");
    }

    private static void Skip(string name, string why)
    {
        Console.WriteLine("skip " + name + ": " + why);
    }

    // ---- utilities ----

    private static string Arg(string[] args, int i, string env)
    {
        if (args.Length > i && args[i].Length > 0) return args[i];
        return Environment.GetEnvironmentVariable(env);
    }

    /// <summary>Polls until a data message (not a heartbeat) arrives, within timeoutMs.</summary>
    private static Message NextData(Channel ch, int timeoutMs)
    {
        Stopwatch sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            Message m;
            Status st = ch.Poll(200, out m);
            if (st == Status.Timeout) continue;
            CheckEq(Status.Ok, st, "poll status");
            Check(m != null, "poll returned Ok without a message");
            if (!m.IsHeartbeat) return m;
        }
        Fail("no data message within " + timeoutMs + " ms");
        return null;
    }

    /// <summary>A port nothing listens on: bind one, then release it.</summary>
    private static int DeadPort()
    {
        TcpListener l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>GET path on the simulator's control endpoint (same host:port as base).</summary>
    private static string SimControl(string baseUrl, string pathAndQuery)
    {
        Uri u = new Uri(baseUrl.Replace("ws://", "http://"));
        using (TcpClient c = new TcpClient(u.Host, u.Port))
        {
            NetworkStream s = c.GetStream();
            byte[] req = Encoding.ASCII.GetBytes("GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + u.Host +
                ":" + u.Port + "\r\nConnection: close\r\n\r\n");
            s.Write(req, 0, req.Length);
            MemoryStream ms = new MemoryStream();
            s.CopyTo(ms);
            string resp = Encoding.UTF8.GetString(ms.ToArray());
            Check(resp.StartsWith("HTTP/1.1 200") || resp.StartsWith("HTTP/1.0 200"),
                "simulator control " + pathAndQuery + " answered: " + resp);
            return resp;
        }
    }

    private static bool WaitFor(Func<bool> cond, int timeoutMs)
    {
        Stopwatch sw = Stopwatch.StartNew();
        while (!cond())
        {
            if (sw.ElapsedMilliseconds > timeoutMs) return false;
            Thread.Sleep(10);
        }
        return true;
    }

    // ---- tests ----

    private static void TestVersionAndStatusNames()
    {
        string v = PiWebApi.Version;
        Check(v.StartsWith(PiWebApi.BindingVersion.Major + "." + PiWebApi.BindingVersion.Minor + "."),
            "library version " + v + " does not match the binding's header version " + PiWebApi.BindingVersion);
        CheckEq("PWA_ERR_CONNECT", PiWebApi.StatusName(Status.ErrConnect), "status name -10");
        CheckEq("PWA_CLOSED", PiWebApi.StatusName(2), "status name 2");
        CheckEq("PWA_UNKNOWN", PiWebApi.StatusName(12345), "unknown status name");
        // Every enum member has the library's name for it: the enum mirrors the header.
        foreach (Status s in Enum.GetValues(typeof(Status)))
            Check(PiWebApi.StatusName(s) != "PWA_UNKNOWN", "the library does not know Status." + s);
        // ... and every status the library knows is in the enum (no drift from the table).
        for (int code = -200; code < 200; code++)
        {
            if (PiWebApi.StatusName(code) == "PWA_UNKNOWN") continue;
            Check(Enum.IsDefined(typeof(Status), code), "Status lacks " + PiWebApi.StatusName(code));
        }
        CheckEq("DIGITAL", PiWebApi.ValueKindName((int)ValueKind.Digital), "kind name");
    }

    private static void TestLayout()
    {
        string path = Environment.GetEnvironmentVariable("PWA_LAYOUT");
        Dictionary<string, Type> types = new Dictionary<string, Type>();
        types["pwa_state_event"] = typeof(Native.pwa_state_event);
        types["pwa_missing_range"] = typeof(Native.pwa_missing_range);
        types["pwa_callbacks"] = typeof(Native.pwa_callbacks);
        types["pwa_stats"] = typeof(Native.pwa_stats);
        types["pwa_config_key_info"] = typeof(Native.pwa_config_key_info);
        types["pwa_url_options"] = typeof(Native.pwa_url_options);
        types["pwa_message_info"] = typeof(Native.pwa_message_info);
        types["pwa_stream_info"] = typeof(Native.pwa_stream_info);
        types["pwa_value"] = typeof(Native.pwa_value);
        types["pwa_subscription_callbacks"] = typeof(Native.pwa_subscription_callbacks);
        types["pwa_subscription_event"] = typeof(Native.pwa_subscription_event);
        types["pwa_subscription_add_report"] = typeof(Native.pwa_subscription_add_report);
        types["pwa_set_stats"] = typeof(Native.pwa_set_stats);
        types["pwa_shard_stats"] = typeof(Native.pwa_shard_stats);
        int seen = 0;
        foreach (string line in File.ReadAllLines(path))
        {
            string[] parts = line.Split(' ');
            if (parts.Length < 2) continue;
            Type t;
            Check(types.TryGetValue(parts[0], out t), "layout file names unknown struct " + parts[0]);
            CheckEq(int.Parse(parts[1]), Marshal.SizeOf(t), "sizeof(" + parts[0] + ")");
            int fields = 0;
            for (int i = 2; i < parts.Length; i++)
            {
                string[] kv = parts[i].Split('=');
                Check(t.GetField(kv[0]) != null, parts[0] + " lacks field " + kv[0]);
                CheckEq(int.Parse(kv[1]), (int)Marshal.OffsetOf(t, kv[0]), "offsetof(" + parts[0] + ", " + kv[0] + ")");
                fields++;
            }
            CheckEq(fields, t.GetFields().Length, parts[0] + " field count");
            seen++;
        }
        CheckEq(types.Count, seen, "structs in the layout file");
    }

    private static void TestPollTypedValues()
    {
        Dictionary<string, long> lastTs = new Dictionary<string, long>();
        Dictionary<string, ValueKind> kinds = new Dictionary<string, ValueKind>();
        int data = 0, values = 0;
        DateTime now = DateTime.UtcNow;
        using (Channel ch = Channel.Open(urlA))
        {
            Check(ch.Handle != 0, "handle is 0");
            CheckEq(ChannelState.Open, ch.State, "state after open");
            while (data < 25)
            {
                Message m = NextData(ch, 5000);
                data++;
                CheckEq(urlA, m.Url, "message url");
                Check(!m.IsUnparsable, "unparsable message: " + m.ParseError);
                Check(m.Json.StartsWith("{"), "json text: " + m.Json);
                CheckEq(7, m.Streams.Count, "streams in an ad hoc message of 7 points");
                int sum = 0;
                foreach (StreamInfo s in m.Streams)
                {
                    Check(s.WebId.StartsWith("F1DP"), "web id " + s.WebId);
                    CheckEq(s.ValueCount, s.Values.Count, "stream values slice");
                    sum += s.ValueCount;
                }
                CheckEq(sum, m.Values.Count, "values of all streams");
                foreach (Value v in m.Values)
                {
                    values++;
                    Check(v.Kind >= ValueKind.Null && v.Kind <= ValueKind.Other, "kind out of range: " + (int)v.Kind);
                    Check(v.KindName != "UNKNOWN", "kind name unknown for " + (int)v.Kind);
                    Check(v.Stream != null && v.Stream == m.Streams[v.StreamIndex], "value's stream");
                    string name = v.Stream.Name;
                    Check(v.TimestampValid, name + ": invalid timestamp " + v.TimestampText);
                    DateTime t = v.TimestampUtc.Value;
                    CheckEq(DateTimeKind.Utc, t.Kind, "timestamp kind");
                    Check(Math.Abs((t - now).TotalMinutes) < 10, name + ": timestamp " + t.ToString("o") + " far from now " + now.ToString("o"));
                    long prev;
                    if (lastTs.TryGetValue(name, out prev))
                        Check(v.TimestampNs > prev, name + ": timestamp did not increase: " + prev + " then " + v.TimestampNs);
                    lastTs[name] = v.TimestampNs;
                    if (!kinds.ContainsKey(name) || kinds[name] == ValueKind.Null) kinds[name] = v.Kind;
                    switch (v.Kind)
                    {
                        case ValueKind.Double:
                            Check(!double.IsNaN(v.Number), name + ": DOUBLE is NaN");
                            break;
                        case ValueKind.Int64:
                            CheckEq((double)v.Integer, v.Number, name + ": INT64 as double");
                            CheckEq(v.Integer.ToString(), v.Text, name + ": INT64 text");
                            break;
                        case ValueKind.String:
                            Check(v.Text.Length > 0, name + ": empty STRING");
                            Check(double.IsNaN(v.Number), name + ": STRING number not NaN");
                            break;
                        case ValueKind.Digital:
                            Check(v.Text.Length > 0, name + ": DIGITAL without a state name");
                            CheckEq((double)v.Integer, v.Number, name + ": DIGITAL code");
                            break;
                        case ValueKind.Null:
                            CheckEq("", v.Text, name + ": NULL text");
                            break;
                    }
                }
            }
            ChannelStats st = ch.Stats;
            Check(st.Messages >= (ulong)data, "stats.messages " + st.Messages + " < " + data);
            Check(st.Bytes > 0, "stats.bytes is 0");
            Check(st.LastMessageUtc.HasValue, "stats: no last message time");
            CheckEq("", ch.LastError, "last error of a healthy channel");
        }
        // The simulator's points (sim/src/config.rs): their kinds and units, UTF-8 included.
        CheckEq(ValueKind.Double, kinds["SINUSOID"], "SINUSOID kind");
        CheckEq(ValueKind.Int64, kinds["BA:COUNT.1"], "BA:COUNT.1 kind");
        CheckEq(ValueKind.String, kinds["BA:PHASE.1"], "BA:PHASE.1 kind");
        CheckEq(ValueKind.Digital, kinds["BA:ACTIVE.1"], "BA:ACTIVE.1 kind");
        Check(values >= 25 * 7, "values read: " + values);
    }

    private static void TestUnitsUtf8()
    {
        using (Channel ch = Channel.Open(urlA))
        {
            Message m = NextData(ch, 5000);
            bool found = false;
            foreach (StreamInfo s in m.Streams)
            {
                if (s.Name != "CDT158") continue;
                found = true;
                CheckEq("\u00B0C", s.Units, "CDT158 stream units (UTF-8 degree sign)");
                foreach (Value v in s.Values) CheckEq("\u00B0C", v.Units, "CDT158 value units");
            }
            Check(found, "no CDT158 stream");
        }
    }

    private const string HandWritten =
        "{\"Links\":{},\"WebException\":{\"StatusCode\":503,\"Errors\":[\"Gateway busy.\",\"Try later.\"]}," +
        "\"Items\":[{\"WebId\":\"F1DPabc\",\"Name\":\"PUMP01.STAT\",\"Path\":\"\\\\\\\\SRV\\\\PUMP01.STAT\"," +
        "\"UnitsAbbreviation\":\"\",\"Links\":{}," +
        "\"WebException\":{\"StatusCode\":502,\"Errors\":[\"Archive unreachable.\"]}," +
        "\"Items\":[" +
        "{\"Timestamp\":\"2022-12-09T14:06:41.123Z\",\"Value\":{\"Name\":\"Shutdown\",\"Value\":254,\"IsSystem\":true}," +
        "\"Good\":false,\"Questionable\":true,\"Substituted\":true,\"Annotated\":false}," +
        "{\"Timestamp\":\"2022-12-09T14:06:44Z\",\"Value\":null,\"Good\":false,\"Substituted\":true,\"Annotated\":true," +
        "\"Errors\":[{\"FieldName\":\"Value\",\"Message\":[\"Point not found.\",\"Check the tag name.\"]}]}," +
        "{\"Timestamp\":\"1969-12-31T23:59:59.9999999Z\",\"Value\":\"Gr\u00FC\u00DFe \u2713\"," +
        "\"UnitsAbbreviation\":\"m\u00B3/h\",\"Good\":true,\"Questionable\":false,\"Annotated\":true}," +
        "{\"Timestamp\":\"not-a-time\",\"Value\":[1,2]," +
        "\"WebException\":{\"StatusCode\":500,\"Errors\":[\"Partial failure.\",\"Second line.\"]}}" +
        "]}]}";

    private static void TestMessageFromJson()
    {
        Message m = Message.FromJson(HandWritten);
        CheckEq(HandWritten, m.Json, "json round trip");
        CheckEq("", m.Url, "url of a message from JSON");
        CheckEq(false, m.IsHeartbeat, "heartbeat");
        CheckEq(false, m.IsUnparsable, "unparsable");
        CheckEq("", m.ParseError, "parse error");
        CheckEq(true, m.HasWebException, "message web exception");
        CheckEq(503, m.WebExceptionStatus, "message web exception status");
        CheckSeq(new[] { "Gateway busy.", "Try later." }, m.WebExceptionErrors, "message web exception errors");
        CheckEq(1, m.Streams.Count, "streams");
        CheckEq(4, m.Values.Count, "values");

        StreamInfo s = m.Streams[0];
        CheckEq(0, s.Index, "stream index");
        CheckEq("F1DPabc", s.WebId, "web id");
        CheckEq("PUMP01.STAT", s.Name, "name");
        CheckEq("\\\\SRV\\PUMP01.STAT", s.Path, "path");
        CheckEq("", s.Units, "stream units");
        CheckEq(0, s.FirstValue, "first value");
        CheckEq(4, s.ValueCount, "stream value count");
        CheckEq(true, s.HasWebException, "stream web exception");
        CheckEq(502, s.WebExceptionStatus, "stream web exception status");
        CheckSeq(new[] { "Archive unreachable." }, s.WebExceptionErrors, "stream web exception errors");

        Value d = m.Values[0]; // digital state
        CheckEq(ValueKind.Digital, d.Kind, "digital kind");
        CheckEq("DIGITAL", d.KindName, "digital kind name");
        CheckEq("Shutdown", d.Text, "digital state name");
        CheckEq(254L, d.Integer, "digital code");
        CheckEq(254.0, d.Number, "digital code as number");
        CheckEq(true, d.IsSystem, "digital is system");
        CheckEq(false, d.Good, "digital good");
        CheckEq(true, d.Questionable, "digital questionable");
        CheckEq(true, d.Substituted, "digital substituted");
        CheckEq(false, d.Annotated, "digital annotated");
        CheckEq(true, d.TimestampValid, "digital timestamp valid");
        CheckEq(1670594801123000000L, d.TimestampNs, "digital timestamp ns");
        CheckEq(new DateTime(2022, 12, 9, 14, 6, 41, 123, DateTimeKind.Utc), d.TimestampUtc.Value, "digital timestamp");
        CheckEq("2022-12-09T14:06:41.123Z", d.TimestampText, "digital timestamp text");
        CheckEq(0, d.Errors.Count, "digital errors");
        CheckEq(0, d.ErrorCount, "digital error count");
        CheckEq(false, d.HasWebException, "digital web exception");
        CheckEq(0, d.StreamIndex, "digital stream index");

        Value n = m.Values[1]; // null with errors
        CheckEq(ValueKind.Null, n.Kind, "null kind");
        CheckEq("", n.Text, "null text");
        Check(double.IsNaN(n.Number), "null number is NaN");
        CheckEq(0L, n.Integer, "null integer");
        CheckEq(false, n.Good, "null good");
        CheckEq(false, n.Questionable, "null questionable (absent)");
        CheckEq(true, n.Substituted, "null substituted");
        CheckEq(true, n.Annotated, "null annotated");
        CheckEq(false, n.IsSystem, "null is system");
        CheckSeq(new[] { "Value: Point not found.; Check the tag name." }, n.Errors, "null value errors");
        CheckEq(1, n.ErrorCount, "null error count");
        CheckEq(1670594804000000000L, n.TimestampNs, "null timestamp ns");

        Value t = m.Values[2]; // string before 1970, UTF-8
        CheckEq(ValueKind.String, t.Kind, "string kind");
        CheckEq("Gr\u00FC\u00DFe \u2713", t.Text, "string text (UTF-8)");
        CheckEq("m\u00B3/h", t.Units, "value units (UTF-8)");
        CheckEq(-100L, t.TimestampNs, "timestamp before the epoch");
        CheckEq(new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(-1), t.TimestampUtc.Value, "DateTime before the epoch");
        CheckEq(true, t.Good, "string good");
        CheckEq(false, t.Questionable, "string questionable");
        CheckEq(false, t.Substituted, "string substituted (absent)");
        CheckEq(true, t.Annotated, "string annotated");

        Value o = m.Values[3]; // array value, bad timestamp, own WebException, Good absent
        CheckEq(ValueKind.Other, o.Kind, "other kind");
        CheckEq("[1,2]", o.Text, "other JSON text");
        CheckEq(false, o.TimestampValid, "invalid timestamp flag");
        CheckEq(0L, o.TimestampNs, "invalid timestamp ns");
        CheckEq(false, o.TimestampUtc.HasValue, "invalid timestamp DateTime");
        CheckEq("not-a-time", o.TimestampText, "invalid timestamp text");
        CheckEq(1, o.ErrorCount, "invalid timestamp error count");
        Check(o.Errors.Count == 1 && o.Errors[0].StartsWith("Timestamp: invalid timestamp 'not-a-time'"),
            "invalid timestamp error: " + string.Join(" | ", o.Errors));
        CheckEq(false, o.Good, "Good left out with a WebException");
        CheckEq(true, o.HasWebException, "value web exception");
        CheckEq(500, o.WebExceptionStatus, "value web exception status");
        CheckSeq(new[] { "Partial failure.", "Second line." }, o.WebExceptionErrors, "value web exception errors");

        Message hb = Message.FromJson("{}");
        CheckEq(true, hb.IsHeartbeat, "{} is a heartbeat");
        CheckEq(0, hb.Values.Count, "heartbeat values");
        Message bad = Message.FromJson("not json");
        CheckEq(true, bad.IsUnparsable, "unparsable flag");
        Check(bad.ParseError.Length > 0, "parse error text");
        CheckEq("not json", bad.Json, "unparsable json kept");
        // FromJson passes the length: text with a NUL inside is kept whole (and unparsable).
        Message nul = Message.FromJson("{\"a\":1}\0tail");
        CheckEq("{\"a\":1}\0tail", nul.Json, "text with a NUL kept whole");
        CheckEq(true, nul.IsUnparsable, "text with a NUL is unparsable");
        // Strings passed as NUL-terminated C strings refuse an embedded NUL.
        Throws<ArgumentException>(delegate { Channel.Open(urlA + "\0x"); }, "NUL in a URL");
    }

    private static void TestBadConfig()
    {
        using (ChannelConfig cfg = new ChannelConfig())
        {
            PiException e = Throws<PiException>(delegate { cfg.Set("no_such_key", "1"); }, "unknown key");
            CheckEq(-1, e.Status, "status of an unknown key");
            CheckEq(Status.ErrInvalidArgument, e.Code, "code of an unknown key");
            CheckEq("PWA_ERR_INVALID_ARGUMENT", e.StatusName, "status name of an unknown key");
            Check(e.Message.Contains("no_such_key"), "message does not name the key: " + e.Message);
            e = Throws<PiException>(delegate { cfg.Set("open_timeout", "soon"); }, "bad value");
            Check(e.Message.Contains("open_timeout"), "message does not name the key: " + e.Message);
            // The configuration is unaffected and still usable.
            cfg.Set("open_timeout", 2.5).Set("reconnect", false).Set("max_queue", 64L);
            CheckEq("2.5", cfg.Get("open_timeout"), "Get open_timeout");
            CheckEq("64", cfg.Get("max_queue"), "Get max_queue");
            cfg.Set("password", "hunter2");
            CheckEq("***", cfg.Get("password"), "Get of a secret");
            cfg.Set("password", "");
            Throws<PiException>(delegate { cfg.Get("no_such_key"); }, "Get of an unknown key");
        }
        using (ChannelConfig fresh = new ChannelConfig())
        {
            int seen = 0;
            foreach (ConfigKey k in ChannelConfig.Keys)
            {
                if (k.Name.StartsWith("header.")) continue;
                CheckEq(k.DefaultValue, fresh.Get(k.Name), "default of " + k.Name);
                seen++;
            }
            Check(seen >= 20, "keys listed: " + seen);
            bool negotiate = false;
            foreach (ConfigKey k in ChannelConfig.Keys)
                if (k.Name == "negotiate_keytab") negotiate = true;
            Check(negotiate, "the Kerberos keys are listed");
            fresh.Set("auth", "kerberos");
            CheckEq("negotiate", fresh.Get("auth"), "auth=kerberos is negotiate");
        }
        ChannelConfig disposed = new ChannelConfig();
        disposed.Dispose();
        disposed.Dispose();
        Throws<ObjectDisposedException>(delegate { disposed.Set("reconnect", "true"); }, "Set after Dispose");
        Throws<ObjectDisposedException>(delegate { Channel.Open(urlA, disposed); }, "Open with a disposed config");
    }

    private static void TestConnectDeadPort()
    {
        int port = DeadPort();
        string url = "ws://127.0.0.1:" + port + "/piwebapi/streams/F1DPx/channel";
        using (ChannelConfig cfg = new ChannelConfig().Set("open_timeout", "2"))
        {
            Stopwatch sw = Stopwatch.StartNew();
            PiException e = Throws<PiException>(delegate { Channel.Open(url, cfg); }, "open on a dead port");
            CheckEq("PWA_ERR_CONNECT", e.StatusName, "status name of a refused connection");
            CheckEq(Status.ErrConnect, e.Code, "code of a refused connection");
            Check(e.Message.Contains(port.ToString()), "message does not name the URL: " + e.Message);
            Check(sw.ElapsedMilliseconds < 5000, "open took " + sw.ElapsedMilliseconds + " ms");
            // With callbacks: the failed open releases the delegates and calls none.
            int calls = 0;
            Throws<PiException>(delegate
            {
                Channel.Open(url, cfg, delegate { calls++; }, delegate { calls++; });
            }, "open with callbacks on a dead port");
            Thread.Sleep(100);
            CheckEq(0, calls, "callbacks after a failed open");
        }
        PiException bad = Throws<PiException>(delegate { Channel.Open("not a url"); }, "malformed URL");
        CheckEq(Status.ErrInvalidArgument, bad.Code, "code of a malformed URL");
    }

    private static void TestUseAfterDispose()
    {
        Channel ch = Channel.Open(urlA);
        NextData(ch, 5000);
        ch.Dispose();
        CheckEq(0UL, ch.Handle, "handle after Dispose");
        Message m;
        Throws<ObjectDisposedException>(delegate { ch.Poll(0, out m); }, "Poll after Dispose");
        Throws<ObjectDisposedException>(delegate { ch.Update(urlB); }, "Update after Dispose");
        Throws<ObjectDisposedException>(delegate { ch.Close(); }, "Close after Dispose");
        Throws<ObjectDisposedException>(delegate { ChannelState s = ch.State; }, "State after Dispose");
        Throws<ObjectDisposedException>(delegate { ChannelStats s = ch.Stats; }, "Stats after Dispose");
        Throws<ObjectDisposedException>(delegate { string s = ch.LastError; }, "LastError after Dispose");
        ch.Dispose(); // a second Dispose is a no-op

        // Dispose while another thread is blocked in Poll: that Poll ends at once.
        using (ChannelConfig cfg = new ChannelConfig())
        {
            Channel ch2 = Channel.Open(urlA, cfg);
            Exception seen = null;
            Status polled = Status.Ok;
            Thread poller = new Thread(delegate ()
            {
                try
                {
                    while (true)
                    {
                        Message x;
                        polled = ch2.Poll(-1, out x);
                        if (polled != Status.Ok) return;
                    }
                }
                catch (Exception e)
                {
                    seen = e;
                }
            });
            poller.Start();
            Thread.Sleep(200);
            Stopwatch sw = Stopwatch.StartNew();
            ch2.Dispose();
            Check(poller.Join(5000), "the poller did not end after Dispose");
            Check(sw.ElapsedMilliseconds < 5000, "Dispose took " + sw.ElapsedMilliseconds + " ms");
            Check(seen is ObjectDisposedException,
                "blocked Poll during Dispose: expected ObjectDisposedException, got " +
                (seen == null ? "status " + polled : seen.GetType().Name + ": " + seen.Message));
        }
    }

    private static void TestCallbacks()
    {
        List<Message> messages = new List<Message>();
        List<StateEvent> events = new List<StateEvent>();
        object gate = new object();
        int mainThread = Thread.CurrentThread.ManagedThreadId;
        int callbackThread = -1;
        Channel ch = Channel.Open(urlB, null,
            delegate (Message m)
            {
                lock (gate) { messages.Add(m); callbackThread = Thread.CurrentThread.ManagedThreadId; }
            },
            delegate (StateEvent e)
            {
                lock (gate) events.Add(e);
            });
        Check(WaitFor(delegate { lock (gate) return messages.Count >= 10; }, 5000), "10 messages did not arrive by callback");
        Check(callbackThread != mainThread, "callback ran on the opening thread");
        // Poll is refused for a channel that delivers to on_message (a PiException, not a status).
        Message pm;
        PiException pe = Throws<PiException>(delegate { ch.Poll(0, out pm); }, "Poll on a callback channel");
        CheckEq(Status.ErrInvalidArgument, pe.Code, "Poll on a callback channel");
        ch.Dispose();
        int nMessages, nEvents;
        lock (gate) { nMessages = messages.Count; nEvents = events.Count; }
        Thread.Sleep(300);
        lock (gate)
        {
            CheckEq(nMessages, messages.Count, "messages after Dispose returned");
            CheckEq(nEvents, events.Count, "events after Dispose returned");
            Check(events.Count >= 2, "events: " + events.Count);
            CheckEq(EventKind.Connected, events[0].Kind, "first event");
            CheckEq(urlB, events[0].Url, "CONNECTED url");
            int closed = 0;
            foreach (StateEvent e in events) if (e.Kind == EventKind.Closed) closed++;
            CheckEq(1, closed, "CLOSED events");
            StateEvent last = events[events.Count - 1];
            CheckEq(EventKind.Closed, last.Kind, "last event");
            CheckEq(Status.Closed, last.Status, "CLOSED status");
            foreach (Message m in messages)
            {
                CheckEq(urlB, m.Url, "callback message url");
                Check(m.IsHeartbeat || m.Values.Count > 0, "callback message without values");
            }
        }
        CheckEq(0L, ch.CallbackExceptionCount, "callback exceptions");
    }

    /// PauseDelivery: a callback pauses its own channel (the way a full consumer does); no
    /// callback runs after it while paused (the simulator sends every 20 ms); the messages
    /// held back come after resuming. On the shared callback thread here.
    private static void TestPauseDelivery()
    {
        int got = 0;
        int pausedAt = -1;
        Channel self = null;
        using (ChannelConfig cfg = new ChannelConfig())
        {
            cfg.Set("callback_thread", "shared");
            Channel ch = Channel.Open(urlB, cfg, delegate (Message m)
            {
                int n = Interlocked.Increment(ref got);
                Channel c = Volatile.Read(ref self);
                if (c != null && Volatile.Read(ref pausedAt) < 0)
                {
                    c.PauseDelivery(true);
                    Volatile.Write(ref pausedAt, n);
                }
            }, null);
            Volatile.Write(ref self, ch);
            Check(WaitFor(delegate { return Volatile.Read(ref pausedAt) > 0; }, 5000), "the callback did not pause");
            Thread.Sleep(400); // ~20 messages arrive meanwhile
            CheckEq(Volatile.Read(ref pausedAt), Volatile.Read(ref got), "messages delivered while paused");
            ch.PauseDelivery(false);
            Check(WaitFor(delegate { return Volatile.Read(ref got) >= Volatile.Read(ref pausedAt) + 10; }, 5000),
                "delivery did not resume");
            ch.Dispose();
            Throws<ObjectDisposedException>(delegate { ch.PauseDelivery(true); }, "PauseDelivery after Dispose");
        }
    }

    private static void TestCallbackException()
    {
        int messages = 0, events = 0, closed = 0;
        Channel ch = Channel.Open(urlA, null,
            delegate (Message m)
            {
                Interlocked.Increment(ref messages);
                throw new InvalidOperationException("thrown by the test's on_message");
            },
            delegate (StateEvent e)
            {
                Interlocked.Increment(ref events);
                if (e.Kind == EventKind.Closed) Interlocked.Increment(ref closed);
                throw new ApplicationException("thrown by the test's on_state");
            });
        Check(WaitFor(delegate { return Volatile.Read(ref messages) >= 10; }, 5000),
            "messages stopped after a callback threw: " + messages);
        Check(ch.CallbackExceptionCount >= 10, "exceptions counted: " + ch.CallbackExceptionCount);
        Check(ch.LastCallbackException is InvalidOperationException || ch.LastCallbackException is ApplicationException,
            "last callback exception: " + ch.LastCallbackException);
        CheckEq(ChannelState.Open, ch.State, "state after throwing callbacks");
        ch.Dispose();
        CheckEq(1, closed, "CLOSED events after throwing callbacks");
        CheckEq(messages + events, (int)ch.CallbackExceptionCount, "every throw counted");
        Check(ch.LastCallbackException is ApplicationException, "the CLOSED callback's exception is last");
    }

    private static void TestDisposeInsideCallback()
    {
        Channel[] holder = new Channel[1];
        ManualResetEvent closedEvent = new ManualResetEvent(false);
        Exception disposeError = null;
        int disposedIn = 0, closedCount = 0, afterClose = 0;
        holder[0] = Channel.Open(urlA, null,
            delegate (Message m)
            {
                Channel c = Volatile.Read(ref holder[0]);
                if (c == null || Interlocked.Exchange(ref disposedIn, 1) == 1) return;
                try { c.Dispose(); } catch (Exception e) { disposeError = e; }
            },
            delegate (StateEvent e)
            {
                if (Volatile.Read(ref closedCount) > 0) Interlocked.Increment(ref afterClose);
                if (e.Kind == EventKind.Closed) { Interlocked.Increment(ref closedCount); closedEvent.Set(); }
            });
        Check(closedEvent.WaitOne(10000), "no CLOSED event after Dispose inside a callback");
        Check(disposeError == null, "Dispose inside a callback threw: " + disposeError);
        Message x;
        Throws<ObjectDisposedException>(delegate { holder[0].Poll(0, out x); }, "Poll after Dispose in a callback");
        Thread.Sleep(200);
        CheckEq(1, closedCount, "CLOSED events");
        CheckEq(0, afterClose, "callbacks after CLOSED");
    }

    private static void TestUpdate()
    {
        using (Channel ch = Channel.Open(urlA))
        {
            Message m = NextData(ch, 5000);
            CheckEq(urlA, m.Url, "url before the update");
            CheckEq(Status.Ok, ch.Update(urlB, true), "Update to the second simulator");
            bool sawB = false;
            int afterB = 0;
            Stopwatch sw = Stopwatch.StartNew();
            while (afterB < 10)
            {
                Check(sw.ElapsedMilliseconds < 10000, "fewer than 10 messages from B within 10 s");
                m = NextData(ch, 5000);
                if (m.Url == urlB) sawB = true;
                else
                {
                    CheckEq(urlA, m.Url, "url during the update");
                    Check(!sawB, "a message from A after one from B");
                }
                if (sawB) afterB++;
            }
            CheckEq(1UL, ch.Stats.Updates, "stats.updates");

            // A failing update with rollback: ROLLED_BACK is a status, the channel goes on at B.
            int port = DeadPort();
            CheckEq(Status.RolledBack, ch.Update("ws://127.0.0.1:" + port + "/piwebapi/streams/F1DPx/channel", true),
                "Update to a dead port with rollback");
            Check(ch.LastError.Contains(port.ToString()), "channel last error after the rollback: " + ch.LastError);
            m = NextData(ch, 5000);
            CheckEq(urlB, m.Url, "url after the rollback");
            CheckEq(ChannelState.Open, ch.State, "state after the rollback");

            PiException e = Throws<PiException>(delegate { ch.Update("not a url"); }, "Update to a malformed URL");
            CheckEq(Status.ErrInvalidArgument, e.Code, "code of a malformed update URL");
            Check(e.Message.Length > 0, "message of a malformed update URL");
            m = NextData(ch, 5000);
            CheckEq(urlB, m.Url, "url after the refused update");
        }
    }

    private static void TestCloseDrains()
    {
        using (Channel ch = Channel.Open(urlA))
        {
            NextData(ch, 5000);
            Thread.Sleep(300); // ~15 messages at 20 ms queue up unread
            Check(ch.Outcome == null, "an outcome while running");
            ch.Close();
            ch.Close(); // idempotent
            Stopwatch until = Stopwatch.StartNew();
            while (ch.Outcome == null && until.ElapsedMilliseconds < 10000) Thread.Sleep(20);
            CheckEq(Status.Closed, ch.Outcome.GetValueOrDefault(Status.Ok), "outcome before the drain");
            int drained = 0;
            Status st;
            Message m;
            Stopwatch sw = Stopwatch.StartNew();
            while ((st = ch.Poll(2000, out m)) == Status.Ok)
            {
                Check(m != null, "Ok without a message");
                drained++;
                Check(sw.ElapsedMilliseconds < 10000, "draining did not end");
            }
            CheckEq(Status.Closed, st, "terminal status after Close");
            Check(m == null, "a message with a terminal status");
            Check(drained >= 5, "drained only " + drained + " messages");
            CheckEq(Status.Closed, ch.Poll(0, out m), "terminal status, again");
            CheckEq(Status.Closed, ch.Poll(100, out m), "terminal status, with a timeout");
            CheckEq(ChannelState.Closed, ch.State, "state after Close");
            // Update of an ended channel returns its terminal status.
            CheckEq(Status.Closed, ch.Update(urlB), "Update of a closed channel");
        }
    }

    private static void TestTimeout()
    {
        using (Channel ch = Channel.Open(urlA))
        {
            NextData(ch, 5000);
            // Drain what is there, then a 0 ms poll that finds nothing returns Timeout.
            Message m;
            Status st;
            int n = 0;
            while ((st = ch.Poll(0, out m)) == Status.Ok) n++;
            CheckEq(Status.Timeout, st, "Poll(0) on an empty queue");
            Check(m == null, "a message with Timeout");
        }
    }

    private static void TestBusy()
    {
        using (Channel ch = Channel.Open(urlA))
        {
            ManualResetEvent started = new ManualResetEvent(false);
            Exception seen = null;
            int stop = 0;
            // Two threads polling the same channel: the second one gets ERR_BUSY (a PiException).
            Thread other = new Thread(delegate ()
            {
                started.Set();
                try
                {
                    Stopwatch sw = Stopwatch.StartNew();
                    while (sw.ElapsedMilliseconds < 3000 && Volatile.Read(ref stop) == 0)
                    {
                        Message m;
                        ch.Poll(50, out m);
                    }
                }
                catch (Exception e) { seen = e; }
            });
            other.Start();
            started.WaitOne();
            PiException busy = null;
            Stopwatch w = Stopwatch.StartNew();
            while (busy == null && seen == null && w.ElapsedMilliseconds < 3000)
            {
                try
                {
                    Message m;
                    ch.Poll(50, out m);
                }
                catch (PiException e) { busy = e; }
            }
            Volatile.Write(ref stop, 1);
            other.Join();
            PiException p = busy ?? seen as PiException;
            Check(p != null, "no ERR_BUSY with two pollers; other thread: " + seen);
            CheckEq(Status.ErrBusy, p.Code, "code with two pollers");
            Check(p.Message.Length > 0 && p.StatusName == "PWA_ERR_BUSY", "ERR_BUSY exception: " + p);
        }
    }

    private static void TestTerminalFailureIsAStatus()
    {
        // reconnect on; the simulator then answers upgrades with 401 and drops the connection:
        // a refused 401 while reconnecting ends the channel with PWA_ERR_AUTH, which Poll
        // returns as the terminal status (not as an exception).
        using (ChannelConfig cfg = new ChannelConfig()
            .Set("reconnect", true).Set("reconnect_initial_delay", 0.05))
        {
            string url = Urls.Stream(baseC, "F1DPEprooo_bQVezilctcffWmAAQAAAAUElTUlYwMVxTSU5VU09JRA");
            List<StateEvent> events = new List<StateEvent>();
            using (Channel ch = Channel.Open(url, cfg, null, delegate (StateEvent e) { lock (events) events.Add(e); }))
            {
                NextData(ch, 5000);
                SimControl(baseC, "/_sim/reject?status=401&ms=20000");
                SimControl(baseC, "/_sim/reset");
                Status st;
                Message m;
                Stopwatch sw = Stopwatch.StartNew();
                while ((st = ch.Poll(500, out m)) == Status.Ok || st == Status.Timeout)
                    Check(sw.ElapsedMilliseconds < 15000, "the channel did not end after a 401");
                CheckEq(Status.ErrAuth, st, "terminal status after a 401 while reconnecting");
                CheckEq(Status.ErrAuth, ch.Poll(0, out m), "terminal status, again");
                CheckEq(ChannelState.Closed, ch.State, "state");
                Check(ch.LastError.Contains("401"), "channel last error: " + ch.LastError);
                // Poll saw the end; the callback thread may still be delivering the events
                // before CLOSED, and disposing now would discard them (after free only CLOSED
                // is handed out): wait for CLOSED first.
                Stopwatch until = Stopwatch.StartNew();
                bool closedSeen = false;
                while (!closedSeen && until.ElapsedMilliseconds < 10000)
                {
                    lock (events) closedSeen = events.Count > 0 && events[events.Count - 1].Kind == EventKind.Closed;
                    if (!closedSeen) Thread.Sleep(10);
                }
                Check(closedSeen, "no CLOSED event within 10 s of the terminal status");
            }
            lock (events)
            {
                StateEvent last = events[events.Count - 1];
                CheckEq(EventKind.Closed, last.Kind, "last event");
                CheckEq(Status.ErrAuth, last.Status, "CLOSED event status");
                bool disconnected = false;
                foreach (StateEvent e in events) if (e.Kind == EventKind.Disconnected) disconnected = true;
                Check(disconnected, "no DISCONNECTED event");
            }
        }
        SimControl(baseC, "/_sim/reject?status=401&ms=1"); // end the refusal
    }

    private static void TestGapFill()
    {
        // An archive simulator restarted for 1.5 s: the backfill's messages are flagged, and
        // BACKFILL_DONE counts exactly their values.
        using (ChannelConfig cfg = new ChannelConfig()
            .Set("gap_fill", true).Set("reconnect", true).Set("reconnect_initial_delay", 0.2))
        {
            string url = Urls.Adhoc(baseArchive, new string[] {
                "F1DPEprooo_bQVezilctcffWmAAQAAAAUElTUlYwMVxTSU5VU09JRA" });
            List<StateEvent> events = new List<StateEvent>();
            List<Message> got = new List<Message>();
            using (Channel ch = Channel.Open(url, cfg, null, delegate (StateEvent e) { lock (events) events.Add(e); }))
            {
                NextData(ch, 5000);
                SimControl(baseArchive, "/_sim/restart?ms=1500");
                Stopwatch sw = Stopwatch.StartNew();
                Func<bool> done = () => { lock (events) return events.Exists(e => e.Kind == EventKind.BackfillDone || e.Kind == EventKind.BackfillFailed); };
                // Polled messages and events are not synchronised: after BACKFILL_DONE the
                // backfilled messages still queued come first, then live ones.
                bool liveAfterDone = false;
                while (!liveAfterDone)
                {
                    Check(sw.ElapsedMilliseconds < 30000, "no backfill within 30 s");
                    bool wasDone = done();
                    Message m;
                    if (ch.Poll(100, out m) != Status.Ok) continue;
                    got.Add(m);
                    liveAfterDone = wasDone && !m.IsBackfilled && m.Values.Count > 0;
                }
            }
            StateEvent fill;
            lock (events) fill = events.Find(e => e.Kind == EventKind.BackfillDone);
            Check(fill != null, "no BACKFILL_DONE (failed?)");
            CheckEq(0, fill.Missing.Count, "missing ranges");
            ulong backfilled = 0;
            foreach (Message m in got)
            {
                if (!m.IsBackfilled) continue;
                Check(m.IsRewritten, "a backfilled message is the library's rendering");
                backfilled += (ulong)m.Values.Count;
            }
            Check(backfilled > 0, "no backfilled value");
            CheckEq(fill.Count, backfilled, "BACKFILL_DONE count");
        }
    }

    private static void TestSubscription()
    {
        // The simulator's points: the WebIds of its ad hoc URL.
        List<string> ids = new List<string>();
        foreach (string part in urlA.Substring(urlA.IndexOf('?') + 1).Split('&'))
            if (part.StartsWith("webId=")) ids.Add(part.Substring(6));
        CheckEq(7, ids.Count, "simulator points");
        using (ChannelConfig cfg = new ChannelConfig())
        {
            cfg.Set("max_streams_per_channel", "2");
            using (Subscription set = Subscription.Open(baseA, cfg))
            {
                List<string> withBad = new List<string>(ids);
                withBad.Add("F1DPnoSuchPointAtAll");
                AddReport r = set.Add(withBad);
                CheckEq(7L, r.Added, "added");
                CheckEq(1L, r.Rejected, "rejected");
                List<RejectedWebId> rej = set.Rejected();
                CheckEq(1, rej.Count, "rejected list");
                CheckEq("F1DPnoSuchPointAtAll", rej[0].WebId, "rejected WebId");
                Check(rej[0].Reason.Contains("404"), "reason: " + rej[0].Reason);
                CheckEq(4L, set.Stats.Shards, "shards");
                HashSet<uint> shards = new HashSet<uint>();
                for (int i = 0; i < 30; i++)
                {
                    Message m;
                    uint shard;
                    CheckEq(Status.Ok, set.Poll(5000, out m, out shard), "poll");
                    shards.Add(shard);
                }
                Check(shards.Count > 1, "messages of several shards");
                CheckEq(1L, set.Remove(new[] { ids[0] }), "removed");
                CheckEq(6L, set.Stats.Streams, "streams after remove");
                set.Close();
                Message last;
                uint s2;
                Status st;
                while ((st = set.Poll(5000, out last, out s2)) == Status.Ok) { }
                CheckEq(Status.Closed, st, "after close");
            }
            cfg.Set("max_channels", "1");
            cfg.Set("max_streams_per_channel", "1");
            using (Subscription small = Subscription.Open(baseA, cfg))
            {
                PiException e = Throws<PiException>(() => small.Add(new[] { ids[0], ids[1] }), "limit");
                CheckEq((int)Status.ErrLimit, e.Status, "limit status");
                Throws<PiException>(() => small.Add(new[] { "not a web id" }), "bad WebId");
            }
        }
    }

    private static void TestSubscriptionCallbacks()
    {
        List<string> ids = new List<string>();
        foreach (string part in urlA.Substring(urlA.IndexOf('?') + 1).Split('&'))
            if (part.StartsWith("webId=")) ids.Add(part.Substring(6));
        object gate = new object();
        int mainThread = Thread.CurrentThread.ManagedThreadId;
        int callbackThread = -1;
        HashSet<uint> shards = new HashSet<uint>();
        HashSet<string> webIds = new HashSet<string>();
        List<SubscriptionEvent> events = new List<SubscriptionEvent>();
        int messages = 0, thrown = 0;
        using (ChannelConfig cfg = new ChannelConfig())
        {
            cfg.Set("max_streams_per_channel", "2");
            Subscription set = Subscription.Open(baseA, cfg,
                delegate (Message m, uint shard)
                {
                    lock (gate)
                    {
                        messages++;
                        shards.Add(shard);
                        callbackThread = Thread.CurrentThread.ManagedThreadId;
                        foreach (Value v in m.Values) webIds.Add(v.Stream.WebId);
                    }
                    // The first message's callback throws: caught, counted, delivery goes on.
                    if (Interlocked.Exchange(ref thrown, 1) == 0) throw new InvalidOperationException("thrown by the test's on_message");
                },
                delegate (SubscriptionEvent e) { lock (gate) events.Add(e); });
            List<string> withBad = new List<string>(ids);
            withBad.Add("F1DPnoSuchPointAtAll");
            AddReport r = set.Add(withBad);
            CheckEq((long)ids.Count, r.Added, "added");
            CheckEq(1L, r.Rejected, "rejected");
            Check(WaitFor(delegate { lock (gate) return webIds.Count == ids.Count && shards.Count == 4; }, 10000),
                "values of every WebId from every shard by callback");
            Check(callbackThread != mainThread, "callback ran on the adding thread");
            Message pm;
            uint ps;
            PiException pe = Throws<PiException>(delegate { set.Poll(0, out pm, out ps); }, "Poll on a callback set");
            CheckEq(Status.ErrInvalidArgument, pe.Code, "Poll on a callback set");
            List<ShardStats> per = set.ShardStats();
            CheckEq(4, per.Count, "shard stats");
            foreach (ShardStats s in per)
            {
                CheckEq(ChannelState.Open, s.State, "shard " + s.Shard + " state");
                Check(s.Streams >= 1 && s.Streams <= 2 && s.Values > 0, "shard " + s.Shard + ": " + s.Streams + " streams, " + s.Values + " values");
            }
            set.Dispose();
            int n;
            lock (gate) n = messages;
            Thread.Sleep(300);
            lock (gate)
            {
                CheckEq(n, messages, "messages after Dispose returned");
                int rejected = 0, closed = 0, shardEvents = 0;
                foreach (SubscriptionEvent e in events)
                {
                    if (e.Kind == SetEventKind.Rejected)
                    {
                        rejected++;
                        CheckEq("F1DPnoSuchPointAtAll", e.WebId, "rejected WebId");
                        Check(e.Message.Contains("404"), "reason: " + e.Message);
                    }
                    if (e.Kind == SetEventKind.Closed) closed++;
                    if (e.Kind == SetEventKind.Shard)
                    {
                        shardEvents++;
                        Check(e.ShardEvent != null && e.Shard > 0, "shard event: " + e);
                    }
                }
                CheckEq(1, rejected, "REJECTED events");
                Check(shardEvents >= 4, "shard events: " + shardEvents);
                CheckEq(1, closed, "CLOSED events");
                CheckEq(SetEventKind.Closed, events[events.Count - 1].Kind, "last event");
                CheckEq(Status.Closed, events[events.Count - 1].Status, "CLOSED status");
            }
            CheckEq(1L, set.CallbackExceptionCount, "callback exceptions counted");
            Check(set.LastCallbackException is InvalidOperationException, "last callback exception: " + set.LastCallbackException);
        }
    }

    private static void TestUrls()
    {
        string webId = "F1DPEprooo_bQVezilctcffWmAAQAAAAUElTUlYwMVxTSU5VU09JRA";
        string url = Urls.Stream(baseA, webId);
        CheckEq(baseA + "/streams/" + webId + "/channel", url, "stream URL");
        string withOpts = Urls.Stream(baseA, webId, new UrlOptions { IncludeInitialValues = true, HeartbeatRate = 5 });
        Check(withOpts.Contains("includeInitialValues=true") && withOpts.Contains("heartbeatRate=5"), "options: " + withOpts);
        string set = Urls.StreamSet(baseA, "F1Emabc", new UrlOptions { NameFilter = "Fl\u00F6w*" });
        Check(set.StartsWith(baseA + "/streamsets/F1Emabc/channel?") && set.Contains("nameFilter=Fl%C3%B6w*"),
            "stream set URL: " + set);
        string[] ids = { "F1DPa", "F1DPb", "F1DPc" };
        CheckEq(baseA + "/streamsets/channel?webId=F1DPa&webId=F1DPb&webId=F1DPc", Urls.Adhoc(baseA, ids), "ad hoc URL");
        string[] split = Urls.AdhocSplit(baseA, ids, baseA.Length + 50);
        Check(split.Length >= 2, "AdhocSplit made " + split.Length + " URL(s)");
        // Enough WebIds for a result over the binding's first 512-byte buffer.
        List<string> many = new List<string>();
        for (int i = 0; i < 80; i++) many.Add("F1DPpoint" + i.ToString("D3"));
        int max = baseA.Length + 200;
        split = Urls.AdhocSplit(baseA, many, max);
        StringBuilder order = new StringBuilder();
        foreach (string u in split)
        {
            Check(Encoding.UTF8.GetByteCount(u) <= max, "split URL longer than " + max + ": " + u);
            foreach (string part in u.Split('?')[1].Split('&')) order.Append(part.Substring("webId=".Length)).Append(',');
        }
        CheckEq(string.Join(",", many) + ",", order.ToString(), "WebIds of the split URLs, in order");
        Check(Urls.Adhoc(baseA, many).Length > 512, "long ad hoc URL");
        PiException e = Throws<PiException>(delegate { Urls.Stream("ftp://x", webId); }, "bad base");
        CheckEq(Status.ErrInvalidArgument, e.Code, "code of a bad base");
        Check(e.Message.Length > 0, "message of a bad base");
        // The built URL streams the one point.
        using (Channel ch = Channel.Open(url))
        {
            Message m = NextData(ch, 5000);
            CheckEq(1, m.Streams.Count, "streams of a stream channel");
            CheckEq("SINUSOID", m.Streams[0].Name, "stream name");
        }
    }

    private static void TestLogCallback()
    {
        List<string> lines = new List<string>();
        PiWebApi.SetLogCallback(LogLevel.Debug, delegate (LogLevel level, string line)
        {
            lock (lines) lines.Add(level + " " + line);
        });
        try
        {
            using (Channel ch = Channel.Open(urlA)) NextData(ch, 5000);
            Check(WaitFor(delegate { lock (lines) return lines.Count > 0; }, 3000), "no log line at Debug");
        }
        finally
        {
            PiWebApi.SetLogCallback(LogLevel.Off, null);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void OpenAndDrop(Action<StateEvent> onState)
    {
        Channel.Open(urlA, null, null, onState); // never disposed
    }

    private static void TestFinalizerSafetyNet()
    {
        // A Channel dropped without Dispose: its finalizer closes it (CLOSED arrives) and frees
        // it on the thread pool; the process does not crash.
        ManualResetEvent closed = new ManualResetEvent(false);
        int closedCount = 0;
        OpenAndDrop(delegate (StateEvent e)
        {
            if (e.Kind == EventKind.Closed) { Interlocked.Increment(ref closedCount); closed.Set(); }
        });
        Stopwatch sw = Stopwatch.StartNew();
        while (!closed.WaitOne(50))
        {
            Check(sw.ElapsedMilliseconds < 10000, "an unreachable Channel was not closed by its finalizer");
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Thread.Sleep(200);
        CheckEq(1, closedCount, "CLOSED events of a finalized channel");
    }

    private static void TestShutdown()
    {
        // Last: the library cannot be restarted in this process.
        Channel ch = Channel.Open(urlA);
        NextData(ch, 5000);
        CheckEq(Status.Ok, PiWebApi.Shutdown(5000), "shutdown");
        Message m;
        Status st;
        Stopwatch sw = Stopwatch.StartNew();
        while ((st = ch.Poll(500, out m)) == Status.Ok)
            Check(sw.ElapsedMilliseconds < 10000, "draining after shutdown did not end");
        Check(st == Status.Closed || st == Status.ErrShutdown, "terminal status after shutdown: " + st);
        ch.Dispose();
        PiException e = Throws<PiException>(delegate { Channel.Open(urlA); }, "open after shutdown");
        CheckEq("PWA_ERR_SHUTDOWN", e.StatusName, "status name after shutdown");
    }


    // ---- AsyncChannel (Task-based) ----

    private const int AsyncBoundMs = 15000;

    /// <summary>Waits for t at most ms; returns its result, or fails (the test) with its
    /// exception or a timeout.</summary>
    private static T Await<T>(Task<T> t, string what, int ms = AsyncBoundMs)
    {
        try
        {
            if (!t.Wait(ms)) Fail(what + ": not done within " + ms + " ms");
        }
        catch (AggregateException e)
        {
            Fail(what + ": " + e.InnerException.GetType().Name + ": " + e.InnerException.Message);
        }
        return t.Result;
    }

    /// <summary>t must end with an exception of type TEx within ms; returns it.</summary>
    private static TEx AwaitThrows<TEx>(Task t, string what, int ms = AsyncBoundMs) where TEx : Exception
    {
        try
        {
            if (!t.Wait(ms)) Fail(what + ": not done within " + ms + " ms");
        }
        catch (AggregateException e)
        {
            TEx x = e.InnerException as TEx;
            if (x == null) Fail(what + ": expected " + typeof(TEx).Name + ", got " + e.InnerException.GetType().Name + ": " + e.InnerException.Message);
            return x;
        }
        Fail(what + ": expected " + typeof(TEx).Name + ", the task succeeded");
        return null;
    }

    /// <summary>The fault-injection simulator's URL for urlA's streams.</summary>
    private static string UrlC()
    {
        Uri a = new Uri(urlA), c = new Uri(baseC);
        return "ws://" + c.Host + ":" + c.Port + a.PathAndQuery;
    }

    private static Message AsyncData(AsyncChannel ch)
    {
        for (int i = 0; i < 1000; i++)
        {
            Message m = Await(ch.ReceiveAsync(), "ReceiveAsync");
            Check(m != null, "ReceiveAsync returned null (an end) while data flows");
            if (!m.IsHeartbeat) return m;
        }
        Fail("no data message in 1000");
        return null;
    }

    private static void TestAsyncReceiveAndClose()
    {
        AsyncChannel ch = Await(AsyncChannel.OpenAsync(urlA), "OpenAsync");
        Check(ch.IsOpen && !ch.IsClosed, "open after OpenAsync");
        for (int i = 0; i < 5; i++) Check(AsyncData(ch).Values.Count > 0, "a data message has values");
        Stopwatch sw = Stopwatch.StartNew();
        Task close = ch.CloseAsync();
        Check(ReferenceEquals(close, ch.CloseAsync()), "concurrent CloseAsync calls share one close");
        Await(close.ContinueWith(t => { t.Wait(); return true; }), "CloseAsync");
        Check(sw.ElapsedMilliseconds < 5000, "CloseAsync took " + sw.ElapsedMilliseconds + " ms");
        Check(ch.IsClosed && !ch.IsOpen, "closed after CloseAsync");
        int n = 0;
        while (Await(ch.ReceiveAsync(), "ReceiveAsync after close") != null)
            Check(++n <= 64, "more buffered messages than maxQueue after CloseAsync");
        Check(Await(ch.ReceiveAsync(), "ReceiveAsync again") == null, "a clean end is null on every call");
        ch.Dispose();
        AwaitThrows<ObjectDisposedException>(ch.ReceiveAsync(), "ReceiveAsync after Dispose");
        AwaitThrows<PiException>(AsyncChannel.OpenAsync("ws://127.0.0.1:" + DeadPort() + "/piwebapi/streams/x/channel"),
            "OpenAsync to a dead port");
    }

    private static void TestAsyncCancelAndDispose()
    {
        AsyncChannel ch = Await(AsyncChannel.OpenAsync(UrlC()), "OpenAsync");
        try
        {
            AsyncData(ch);
            CancellationTokenSource pre = new CancellationTokenSource();
            pre.Cancel();
            AwaitThrows<OperationCanceledException>(ch.ReceiveAsync(pre.Token), "pre-cancelled ReceiveAsync");
            SimControl(baseC, "/_sim/stall?on=1");
            try
            {
                while (true) // take what is buffered
                {
                    CancellationTokenSource c = new CancellationTokenSource(300);
                    Task<Message> t = ch.ReceiveAsync(c.Token);
                    try { t.Wait(5000); }
                    catch (AggregateException e) when (e.InnerException is OperationCanceledException) { break; }
                    Check(t.IsCompleted, "a bounded ReceiveAsync did not finish");
                }
                CancellationTokenSource cts = new CancellationTokenSource();
                Task<Message> pending = ch.ReceiveAsync(cts.Token);
                Thread.Sleep(100);
                Check(!pending.IsCompleted, "ReceiveAsync completed while the server is stalled");
                AwaitThrows<InvalidOperationException>(ch.ReceiveAsync(), "a second concurrent ReceiveAsync");
                cts.Cancel();
                AwaitThrows<OperationCanceledException>(pending, "cancelled ReceiveAsync");
            }
            finally
            {
                SimControl(baseC, "/_sim/stall?on=0");
            }
            AsyncData(ch); // receiving works after a cancellation
            // Dispose while a ReceiveAsync waits: it ends with ObjectDisposedException, at once.
            SimControl(baseC, "/_sim/stall?on=1");
            try
            {
                while (true)
                {
                    CancellationTokenSource c = new CancellationTokenSource(300);
                    Task<Message> t = ch.ReceiveAsync(c.Token);
                    try { t.Wait(5000); }
                    catch (AggregateException e) when (e.InnerException is OperationCanceledException) { break; }
                }
                Task<Message> waiting = ch.ReceiveAsync();
                Thread.Sleep(50);
                Check(!waiting.IsCompleted, "ReceiveAsync completed while the server is stalled");
                Stopwatch sw = Stopwatch.StartNew();
                ch.Dispose();
                Check(sw.ElapsedMilliseconds < 2000, "Dispose took " + sw.ElapsedMilliseconds + " ms");
                AwaitThrows<ObjectDisposedException>(waiting, "ReceiveAsync pending during Dispose", 2000);
            }
            finally
            {
                SimControl(baseC, "/_sim/stall?on=0");
            }
        }
        finally
        {
            ch.Dispose();
        }
    }

    private static void TestAsyncErrorEndAndObservable()
    {
        // reconnect off: a reset ends the channel with ClosedError, thrown by ReceiveAsync.
        AsyncChannel ch = Await(AsyncChannel.OpenAsync(UrlC()), "OpenAsync");
        try
        {
            AsyncData(ch);
            SimControl(baseC, "/_sim/reset");
            ChannelClosedException end = null;
            for (int i = 0; i < 100000 && end == null; i++)
            {
                Task<Message> t = ch.ReceiveAsync();
                try { t.Wait(AsyncBoundMs); }
                catch (AggregateException e) { end = e.InnerException as ChannelClosedException; if (end == null) throw; }
                if (end == null) Check(t.IsCompleted && t.Result != null, "ReceiveAsync returned null or hung before the error end");
            }
            Check(end != null, "no ChannelClosedException after a reset");
            CheckEq(Status.ClosedError, end.Status, "terminal status");
            Check(ch.IsClosed, "IsClosed after the error end");
            AwaitThrows<ChannelClosedException>(ch.ReceiveAsync(), "ReceiveAsync again after the error end");
        }
        finally
        {
            ch.Dispose();
        }

        // IObservable: OnNext for messages, then OnError(ChannelClosedException) at an error end.
        AsyncChannel ch2 = Await(AsyncChannel.OpenAsync(UrlC()), "OpenAsync");
        try
        {
            Collector obs = new Collector();
            using (ch2.Subscribe(obs))
            {
                Check(WaitFor(() => obs.Count >= 3, AsyncBoundMs), "the observer got no messages");
                Throws<InvalidOperationException>(() => ch2.Subscribe(new Collector()), "a second subscriber");
                SimControl(baseC, "/_sim/reset");
                Check(obs.Done.Wait(AsyncBoundMs), "neither OnError nor OnCompleted after a reset");
                Check(obs.Error is ChannelClosedException, "OnError(ChannelClosedException), got " +
                    (obs.Error == null ? "OnCompleted" : obs.Error.GetType().Name));
            }
        }
        finally
        {
            ch2.Dispose();
        }
    }

    private sealed class Collector : IObserver<Message>
    {
        private int count;
        public int Count { get { return Volatile.Read(ref count); } }
        public Exception Error;
        public readonly ManualResetEventSlim Done = new ManualResetEventSlim();
        public void OnNext(Message m) { Interlocked.Increment(ref count); }
        public void OnError(Exception e) { Error = e; Done.Set(); }
        public void OnCompleted() { Done.Set(); }
    }

    private static void TestAsyncUpdate()
    {
        using (AsyncChannel ch = Await(AsyncChannel.OpenAsync(urlA, null, 8), "OpenAsync"))
        {
            AsyncData(ch);
            CheckEq(Status.Ok, Await(ch.UpdateAsync(urlB), "UpdateAsync"), "update status");
            string hostB = new Uri(urlB).Authority;
            bool seenB = false;
            for (int i = 0; i < 2000 && !seenB; i++) seenB = new Uri(AsyncData(ch).Url).Authority == hostB;
            Check(seenB, "no message from the new endpoint after UpdateAsync");
            string dead = "ws://127.0.0.1:" + DeadPort() + "/piwebapi/streams/x/channel";
            CheckEq(Status.RolledBack, Await(ch.UpdateAsync(dead, true), "UpdateAsync (rollback)"), "rolled back");
            Check(ch.IsOpen, "still open after a rollback");
            AsyncData(ch);
            // Back-pressure: nobody receives; the library's queue fills, nothing is lost.
            Check(WaitFor(() => ch.Channel.Stats.QueueDepth > 0, AsyncBoundMs), "the library queued nothing");
        }
    }

    private static int Main(string[] args)
    {
        urlA = Arg(args, 0, "SIM_ADHOC");
        urlB = Arg(args, 1, "SIM2_ADHOC");
        baseA = Arg(args, 2, "SIM_BASE");
        baseC = Arg(args, 3, "SIM3_BASE");
        baseArchive = Arg(args, 4, "SIMA_BASE");
        if (string.IsNullOrEmpty(urlA) || string.IsNullOrEmpty(urlB) || string.IsNullOrEmpty(baseA))
        {
            Console.Error.WriteLine("usage: TestBinding.exe ADHOC_URL_A ADHOC_URL_B BASE_A [BASE_C]\n" +
                "   (or SIM_ADHOC, SIM2_ADHOC, SIM_BASE, SIM3_BASE in the environment)");
            return 2;
        }
        Console.WriteLine("piwebasync " + PiWebApi.Version + ", " + (IntPtr.Size * 8) + "-bit, runtime " + Environment.Version);

        Run("version_and_status_names", TestVersionAndStatusNames);
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PWA_LAYOUT"))) Run("struct_layout", TestLayout);
        else Skip("struct_layout", "PWA_LAYOUT not set (no C compiler?)");
        Run("message_from_json", TestMessageFromJson);
        Run("bad_config_key", TestBadConfig);
        Run("connect_dead_port", TestConnectDeadPort);
        Run("poll_typed_values", TestPollTypedValues);
        Run("units_utf8", TestUnitsUtf8);
        Run("poll_timeout", TestTimeout);
        Run("two_pollers_busy", TestBusy);
        Run("use_after_dispose", TestUseAfterDispose);
        Run("callbacks", TestCallbacks);
        Run("pause_delivery", TestPauseDelivery);
        Run("callback_exception", TestCallbackException);
        Run("dispose_inside_callback", TestDisposeInsideCallback);
        Run("update", TestUpdate);
        Run("close_drains", TestCloseDrains);
        Run("urls", TestUrls);
        Run("subscription_set", TestSubscription);
        Run("subscription_set_callbacks", TestSubscriptionCallbacks);
        Run("log_callback", TestLogCallback);
        Run("finalizer_safety_net", TestFinalizerSafetyNet);
        if (!string.IsNullOrEmpty(baseC)) Run("terminal_failure_is_a_status", TestTerminalFailureIsAStatus);
        else Skip("terminal_failure_is_a_status", "no fault-injection simulator (SIM3_BASE)");
        if (!string.IsNullOrEmpty(baseArchive)) Run("gap_fill", TestGapFill);
        else Skip("gap_fill", "no archive simulator (SIMA_BASE)");
        Run("async_receive_and_close", TestAsyncReceiveAndClose);
        Run("async_update", TestAsyncUpdate);
        if (!string.IsNullOrEmpty(baseC))
        {
            Run("async_cancel_and_dispose", TestAsyncCancelAndDispose);
            Run("async_error_end_and_observable", TestAsyncErrorEndAndObservable);
        }
        else Skip("async_cancel_and_dispose", "no fault-injection simulator (SIM3_BASE)");
        Run("shutdown", TestShutdown);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        Console.WriteLine("dotnet: " + passed + " passed, 0 failed");
        return 0;
    }
}
