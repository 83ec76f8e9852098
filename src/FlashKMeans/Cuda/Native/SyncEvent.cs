namespace FlashKMeans.Cuda.Native;

/// <summary>
/// An event used only to order work between streams and to let the host wait for it (no timing, so it is cheap): streaming's
/// copy and compute streams, and a resident batch's steps when one is enqueued ahead of the other.
/// </summary>
internal sealed class SyncEvent : CudaEventResource
{
    private const uint DisableTiming = 2;

    public SyncEvent(CudaContext context)
        : base(context, DisableTiming)
    {
    }

    /// <summary>Whether the event was ever recorded; waiting on a never-recorded event is a no-op anyway, this saves the call.</summary>
    public bool Recorded { get; private set; }

    public void Record(CudaStream stream)
    {
        CudaCheck.ThrowIfFailed(CudaApi.cuEventRecord(Handle, stream.Handle));
        Recorded = true;
    }

    /// <summary>Makes <paramref name="stream"/>'s later work wait for the last record of this event.</summary>
    public void MakeWait(CudaStream stream)
    {
        if (Recorded)
            CudaCheck.ThrowIfFailed(CudaApi.cuStreamWaitEvent(stream.Handle, Handle, 0));
    }

    /// <summary>Blocks the host until the last record of this event has completed.</summary>
    public void Synchronize()
    {
        if (Recorded)
            CudaCheck.ThrowIfFailed(CudaApi.cuEventSynchronize(Handle));
    }
}
