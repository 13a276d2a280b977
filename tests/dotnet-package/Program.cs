// A console program that uses PiWebAsync the way a NuGet user does: built against
// lib/netstandard2.0/PiWebAsync.Net.dll of the restored package, run with the package's
// runtimes/<rid>/native library copied beside it (scripts/test-nupkg.sh).
//
//   Program.exe URL COUNT   streams COUNT messages; exit 0 on success, 1 on failure, 3 when the
//                           native library cannot be found (the exception's text on stderr)
using System;
using PiWebAsync;

internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length != 2) { Console.Error.WriteLine("usage: Program.exe URL COUNT"); return 2; }
        int want = int.Parse(args[1]);
        try
        {
            int values = 0;
            using (var cfg = new ChannelConfig().Set("open_timeout", "10"))
            using (Channel ch = Channel.Open(args[0], cfg))
            {
                for (int got = 0; got < want; got++)
                {
                    Message msg;
                    Status st = ch.Poll(10000, out msg);
                    if (st != Status.Ok)
                    {
                        Console.Error.WriteLine("poll: " + PiWebApi.StatusName(st));
                        return 1;
                    }
                    values += msg.Values.Count;
                }
            }
            PiWebApi.Shutdown(5000);
            if (values == 0) { Console.Error.WriteLine("no value in " + want + " messages"); return 1; }
            Console.WriteLine("Program: PiWebAsync " + PiWebApi.Version + ", " + want + " messages, " + values + " values");
            return 0;
        }
        catch (DllNotFoundException e)
        {
            Console.Error.WriteLine(e.Message);
            return 3;
        }
    }
}
