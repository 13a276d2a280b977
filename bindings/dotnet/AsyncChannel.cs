// Task-based channel on top of Channel's callback mode (C# 7, netstandard2.0; built by Mono's
// mcs too). No thread-pool thread ever blocks while waiting:
// - messages are pushed by the library's own callback thread of the channel into a bounded
//   queue; a pending ReceiveAsync is completed from there (its continuation runs
//   asynchronously, never on the callback thread);
// - the blocking library calls (open, update, free) run on dedicated threads
//   (TaskCreationOptions.LongRunning), not on pool threads.
// Back-pressure: when the queue holds maxQueue messages, the callback thread waits until a
// ReceiveAsync takes one; meanwhile the library's own queue (max_queue, max_queue_bytes) fills
// and the library stops reading the socket. Nothing is dropped.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace PiWebAsync
{
    /// <summary>The channel ended other than cleanly (ReceiveAsync, and OnError of an
    /// observer): Status is the terminal status (ClosedError, WatchdogTimeout, UpdateFailed,
    /// or the failure that ended it, e.g. ErrAuth); Reason says why.</summary>
    public sealed class ChannelClosedException : Exception
    {
        public Status Status { get; private set; }
        public string Reason { get; private set; }
        public string StatusName { get { return PiWebApi.StatusName((int)Status); } }

        public ChannelClosedException(Status status, string reason)
            : base(PiWebApi.StatusName((int)status) + (string.IsNullOrEmpty(reason) ? "" : ": " + reason))
        {
            Status = status;
            Reason = reason ?? string.Empty;
        }
    }

    /// <summary>
    /// A channel with a Task-based API:
    /// <code>
    /// using (AsyncChannel ch = await AsyncChannel.OpenAsync(url, config))
    /// {
    ///     Message m;
    ///     while ((m = await ch.ReceiveAsync(token)) != null) { ... }   // null: a clean end
    /// }                                                                // ChannelClosedException: any other end
    /// </code>
    /// ReceiveAsync returns buffered messages first, also after the channel ended, then null
    /// for a clean end (Status.Closed) or throws ChannelClosedException for any other, on
    /// every later call too. Cancelling a ReceiveAsync loses nothing. One ReceiveAsync at a
    /// time (InvalidOperationException otherwise). Subscribe (IObservable) pumps the messages
    /// to an observer: OnNext for each, OnCompleted at a clean end, OnError(ChannelClosedException)
    /// at any other. CloseAsync closes gracefully (what was received stays readable);
    /// Dispose frees at once and discards what is buffered: a pending or later ReceiveAsync
    /// throws ObjectDisposedException.
    /// </summary>
    public sealed class AsyncChannel : IDisposable, IObservable<Message>
    {
        private readonly object gate = new object();
        // A ring of maxQueue slots rather than Queue<T>: Queue<T> is not in .NET Core's
        // mscorlib facade, which this assembly (built by mcs against mscorlib) binds to there.
        private readonly Message[] queue;
        private int queueHead, queueCount;
        private readonly int maxQueue;
        private readonly TaskCompletionSource<bool> endTcs =
            new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource<bool> waiter;
        private bool discard, ended, disposed, subscribed;
        private Status endStatus;
        private string endReason = string.Empty;
        private long discarded;
        private Channel channel;
        private Task closing;

        private AsyncChannel(int maxQueue)
        {
            if (maxQueue < 1) throw new ArgumentOutOfRangeException("maxQueue", "must be >= 1");
            this.maxQueue = maxQueue;
            queue = new Message[maxQueue];
        }

        /// <summary>Opens a channel (on a dedicated thread: the open blocks in the library until
        /// the first connection, at most open_timeout). Throws (in the task) PiException like
        /// Channel.Open. maxQueue: messages buffered here before the library's callback thread
        /// waits (its slots are allocated up front). A cancellation requested while the open runs disposes the channel once it
        /// is open and cancels the task.</summary>
        public static Task<AsyncChannel> OpenAsync(string url, ChannelConfig config = null, int maxQueue = 64,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (url == null) throw new ArgumentNullException("url");
            AsyncChannel ac = new AsyncChannel(maxQueue);
            cancellationToken.ThrowIfCancellationRequested();
            return Task.Factory.StartNew(() =>
            {
                ac.channel = Channel.Open(url, config, ac.OnMessage, ac.OnState);
                if (cancellationToken.IsCancellationRequested)
                {
                    ac.Dispose();
                    cancellationToken.ThrowIfCancellationRequested();
                }
                return ac;
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        /// <summary>The underlying Channel (State, Outcome, Stats, LastError, ...).</summary>
        public Channel Channel { get { return channel; } }

        /// <summary>Messages the library still held when CloseAsync or Dispose was called,
        /// dropped unread.</summary>
        public long MessagesDiscarded { get { lock (gate) return discarded; } }

        // ---- the library's callback thread ----

        private void OnMessage(Message m)
        {
            TaskCompletionSource<bool> w;
            lock (gate)
            {
                while (queueCount >= maxQueue && !discard) Monitor.Wait(gate);
                if (discard)
                {
                    discarded++;
                    return;
                }
                queue[(queueHead + queueCount) % maxQueue] = m;
                queueCount++;
                w = waiter;
                waiter = null;
            }
            if (w != null) w.TrySetResult(true);
        }

        private void OnState(StateEvent e)
        {
            if (e.Kind == EventKind.Closed) PushEnd(e.Status, e.Reason);
        }

        private void PushEnd(Status status, string reason)
        {
            TaskCompletionSource<bool> w;
            lock (gate)
            {
                if (ended) return;
                ended = true;
                endStatus = status;
                endReason = reason ?? string.Empty;
                w = waiter;
                waiter = null;
            }
            if (w != null) w.TrySetResult(true);
            endTcs.TrySetResult(true);
        }

        // ---- receiving ----

        /// <summary>The next message; null at a clean end; ChannelClosedException at any other
        /// end; TaskCanceledException when the token is cancelled first (nothing is lost);
        /// ObjectDisposedException after Dispose.</summary>
        public async Task<Message> ReceiveAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            while (true)
            {
                TaskCompletionSource<bool> w;
                lock (gate)
                {
                    if (disposed) throw new ObjectDisposedException("AsyncChannel");
                    if (queueCount > 0)
                    {
                        Message m = queue[queueHead];
                        queue[queueHead] = null;
                        queueHead = (queueHead + 1) % maxQueue;
                        queueCount--;
                        Monitor.PulseAll(gate);
                        return m;
                    }
                    if (ended)
                    {
                        if (endStatus == Status.Closed) return null;
                        throw new ChannelClosedException(endStatus, endReason);
                    }
                    if (waiter != null) throw new InvalidOperationException("a ReceiveAsync is already pending");
                    cancellationToken.ThrowIfCancellationRequested();
                    w = waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                using (cancellationToken.Register(() =>
                {
                    lock (gate)
                    {
                        if (waiter == w) waiter = null;
                    }
                    w.TrySetCanceled();
                }))
                {
                    await w.Task.ConfigureAwait(false);
                }
            }
        }

        /// <summary>IObservable: pumps messages to observer (one subscriber) until the end:
        /// OnCompleted at a clean end, OnError at any other (ChannelClosedException,
        /// ObjectDisposedException after Dispose). Disposing the subscription stops the pump
        /// (no message is lost: later ReceiveAsync calls get the rest).</summary>
        public IDisposable Subscribe(IObserver<Message> observer)
        {
            if (observer == null) throw new ArgumentNullException("observer");
            lock (gate)
            {
                if (subscribed) throw new InvalidOperationException("an AsyncChannel has one subscriber");
                subscribed = true;
            }
            CancellationTokenSource cts = new CancellationTokenSource();
            Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        Message m = await ReceiveAsync(cts.Token).ConfigureAwait(false);
                        if (m == null)
                        {
                            observer.OnCompleted();
                            return;
                        }
                        observer.OnNext(m);
                    }
                }
                catch (OperationCanceledException) when (cts.IsCancellationRequested)
                {
                }
                catch (Exception e)
                {
                    observer.OnError(e);
                }
                finally
                {
                    lock (gate) subscribed = false;
                }
            });
            return new Subscription(cts);
        }

        private sealed class Subscription : IDisposable
        {
            private readonly CancellationTokenSource cts;
            public Subscription(CancellationTokenSource c) { cts = c; }
            public void Dispose() { cts.Cancel(); }
        }

        // ---- control ----

        /// <summary>Channel.Update on a dedicated thread: Ok, RolledBack, UpdateFailed (the
        /// channel closes: ReceiveAsync then gives what was buffered and throws
        /// ChannelClosedException(UpdateFailed)), or the terminal status if it had ended.
        /// Cancelling the token does not stop the switch in the library.</summary>
        public Task<Status> UpdateAsync(string url, bool rollback = true)
        {
            if (url == null) throw new ArgumentNullException("url");
            Channel ch = Live();
            return Task.Factory.StartNew(() => ch.Update(url, rollback), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        /// <summary>Graceful close: asks for it, waits (without blocking a thread) until the
        /// channel ended or timeout passed (default 11 s: close_timeout's default + 1 s), then
        /// frees the channel on a dedicated thread. Messages already received stay readable,
        /// then ReceiveAsync returns null; what the library still held is discarded.
        /// Idempotent; concurrent calls share one close.</summary>
        public Task CloseAsync(TimeSpan? timeout = null)
        {
            lock (gate)
            {
                if (disposed) return Task.FromResult(true);
                if (closing == null) closing = CloseCore(timeout ?? TimeSpan.FromSeconds(11));
                return closing;
            }
        }

        private async Task CloseCore(TimeSpan timeout)
        {
            await Task.Yield(); // never under the caller's lock
            Channel ch = channel;
            try { ch.Close(); }
            catch (ObjectDisposedException) { }
            lock (gate)
            {
                discard = true;
                Monitor.PulseAll(gate);
            }
            await Task.WhenAny(endTcs.Task, Task.Delay(timeout)).ConfigureAwait(false);
            await Task.Factory.StartNew(() => ch.Dispose(), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            PushEnd(Status.Closed, "closed by CloseAsync");
        }

        public bool IsOpen
        {
            get
            {
                try { return !IsEnded && closing == null && channel.State == ChannelState.Open; }
                catch (ObjectDisposedException) { return false; }
            }
        }

        public bool IsReconnecting
        {
            get
            {
                try { return !IsEnded && channel.State == ChannelState.Reconnecting; }
                catch (ObjectDisposedException) { return false; }
            }
        }

        /// <summary>The channel has ended (messages may still be buffered), was closed or disposed.</summary>
        public bool IsClosed
        {
            get
            {
                if (IsEnded) return true;
                try { return channel.Outcome != null; }
                catch (ObjectDisposedException) { return true; }
            }
        }

        private bool IsEnded { get { lock (gate) return ended || disposed; } }

        private Channel Live()
        {
            lock (gate)
            {
                if (disposed) throw new ObjectDisposedException("AsyncChannel");
            }
            return channel;
        }

        /// <summary>Frees the channel now (blocks the calling thread at most about 0.5 s):
        /// buffered messages are discarded; a pending ReceiveAsync throws
        /// ObjectDisposedException. Idempotent.</summary>
        public void Dispose()
        {
            TaskCompletionSource<bool> w;
            lock (gate)
            {
                if (disposed) return;
                disposed = true;
                discard = true;
                discarded += queueCount;
                Array.Clear(queue, 0, queue.Length);
                queueHead = 0;
                queueCount = 0;
                Monitor.PulseAll(gate);
                w = waiter;
                waiter = null;
            }
            if (w != null) w.TrySetResult(true);
            Channel ch = channel;
            if (ch != null) ch.Dispose();
            endTcs.TrySetResult(true);
        }
    }
}
