using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda.Streaming;


/// <summary>
/// Brings each batch's labels (and distances) back to the host as soon as the batch is assigned, so that
/// per-row results need no N-row arrays on the GPU (<see cref="LabelPlacement.Host"/>, and the streamed
/// prediction pass). A small ring of slots, each a device buffer the assignment writes, a page-locked host
/// buffer, and two events, mirrors the data ring: after a batch's work is enqueued on the compute stream,
/// "assigned" is recorded there, the read-back stream waits for it and copies the slot to pinned memory,
/// then records "copied". The read-back has its own stream so that device-to-host copies overlap the
/// host-to-device copies of later batches (separate copy engines) and later compute. The host hands a
/// slot's batch to the handler only when the slot comes round again (or at <see cref="Finish"/>), after
/// waiting for its "copied" event; batches therefore arrive in the order they were submitted, and the
/// device buffer is free for the next batch once the host has seen it (no stream wait needed).
/// </summary>
internal sealed unsafe class LabelReadback : IDisposable
{
    private readonly CudaStream _compute;
    private readonly GpuResources _owned = new();
    private readonly CudaStream _stream;
    private readonly DeviceBuffer<int>[] _labels;
    private readonly DeviceBuffer<float>[] _distances;
    private readonly IHostSlot[] _host;
    private readonly SyncEvent[] _assigned;
    private readonly SyncEvent[] _copied;
    private readonly (long First, int Count, bool Distances)[] _pending;
    private readonly bool[] _isPending;
    private LabelBatchHandler? _handler;
    private long _next;        // batches submitted in this pass
    private int _acquired = -1;

    /// <param name="context">The device.</param>
    /// <param name="compute">The stream the assignments run on.</param>
    /// <param name="depth">Slots; batches in flight between assignment and the host.</param>
    /// <param name="capacityRows">Most rows of one batch.</param>
    /// <param name="allocator">Page-locked host buffers (or plain ones in tests).</param>
    public LabelReadback(CudaContext context, CudaStream compute, int depth, int capacityRows, IHostSlotAllocator allocator)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityRows, 1);
        _compute = compute;
        Capacity = capacityRows;
        _labels = new DeviceBuffer<int>[depth];
        _distances = new DeviceBuffer<float>[depth];
        _host = new IHostSlot[depth];
        _assigned = new SyncEvent[depth];
        _copied = new SyncEvent[depth];
        _pending = new (long, int, bool)[depth];
        _isPending = new bool[depth];
        try
        {
            _stream = Own(new CudaStream(context));
            for (int i = 0; i < depth; i++)
            {
                _labels[i] = Own(new DeviceBuffer<int>(context, capacityRows));
                _distances[i] = Own(new DeviceBuffer<float>(context, capacityRows));
                _host[i] = Own(allocator.Allocate((long)capacityRows * (sizeof(int) + sizeof(float))));
                _assigned[i] = Own(new SyncEvent(context));
                _copied[i] = Own(new SyncEvent(context));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Most rows of one batch.</summary>
    public int Capacity { get; }

    private T Own<T>(T resource) where T : IDisposable
    {
        return _owned.Own(resource);
    }

    /// <summary>Starts a pass whose batches go to <paramref name="handler"/>; anything left of an abandoned pass is dropped.</summary>
    public void Start(LabelBatchHandler handler)
    {
        Array.Clear(_isPending);
        _handler = handler;
        _next = 0;
        _acquired = -1;
    }

    /// <summary>
    /// The device buffers the next batch's assignment writes (labels, distances). First hands the batch that
    /// used the slot before to the handler, waiting for its copy if need be.
    /// </summary>
    public (ulong Labels, ulong Distances) Acquire()
    {
        if (_handler is null)
            throw new InvalidOperationException("Start a pass first.");
        int slot = (int)(_next % _labels.Length);
        Deliver(slot);
        _acquired = slot;
        return (_labels[slot].Pointer, _distances[slot].Pointer);
    }

    /// <summary>
    /// Enqueues the copy of the acquired slot's first <paramref name="count"/> labels (and distances when
    /// <paramref name="withDistances"/>) once the work enqueued so far on the compute stream has finished.
    /// </summary>
    public void Submit(long first, int count, bool withDistances)
    {
        int slot = _acquired;
        if (slot < 0)
            throw new InvalidOperationException("Acquire a slot first.");
        if ((uint)count > (uint)Capacity)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"A slot holds at most {Capacity} rows.");
        _acquired = -1;
        _assigned[slot].Record(_compute);
        _assigned[slot].MakeWait(_stream);
        var host = (byte*)_host[slot].Pointer;
        _stream.CopyToHost(host, _labels[slot].Pointer, (long)count * sizeof(int));
        if (withDistances)
            _stream.CopyToHost(host + (long)Capacity * sizeof(int), _distances[slot].Pointer, (long)count * sizeof(float));
        _copied[slot].Record(_stream);
        _pending[slot] = (first, count, withDistances);
        _isPending[slot] = true;
        _next++;
    }

    /// <summary>Hands every batch still in flight to the handler, in submission order, and ends the pass.</summary>
    public void Finish()
    {
        int depth = _labels.Length;
        for (long i = Math.Max(0, _next - depth); i < _next; i++)
            Deliver((int)(i % depth));
        _handler = null;
    }

    /// <summary>After an error: waits for copies in flight (so no pinned or device memory is written after it is freed) and drops them.</summary>
    public void Abandon()
    {
        try
        {
            _stream.Synchronize();
        }
        catch (CudaException)
        {
            // The original error matters more; a sticky context error would repeat here.
        }
        Array.Clear(_isPending);
        _handler = null;
        _acquired = -1;
    }

    private void Deliver(int slot)
    {
        if (!_isPending[slot])
            return;
        _isPending[slot] = false;
        _copied[slot].Synchronize();
        var (first, count, withDistances) = _pending[slot];
        var host = (byte*)_host[slot].Pointer;
        _handler!(first, new ReadOnlySpan<int>(host, count),
            withDistances ? new ReadOnlySpan<float>(host + (long)Capacity * sizeof(int), count) : default);
    }

    public void Dispose()
    {
        if (_owned.Count > 0)
            Abandon();
        List<Exception>? errors = null;
        _owned.Free(ref errors);
        if (errors is not null)
            throw new AggregateException("Freeing the label read-back failed.", errors);
    }
}
