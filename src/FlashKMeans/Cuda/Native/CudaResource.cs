namespace FlashKMeans.Cuda.Native;

/// <summary>
/// Base of every owner of a GPU object (memory, stream, event, module). Exactly one owner frees each
/// object: an explicit <see cref="Dispose"/> throws when the driver reports a failed free; the finalizer,
/// the safety net for a forgotten Dispose, frees silently. A process-wide count of live objects lets
/// tests assert that repeated fits leak nothing.
/// </summary>
internal abstract class CudaResource : IDisposable
{
    private static long s_live;
    private int _released;

    protected CudaResource(CudaContext context)
    {
        Context = context;
        Interlocked.Increment(ref s_live);
    }

    /// <summary>GPU objects currently owned, process-wide.</summary>
    internal static long LiveCount => Interlocked.Read(ref s_live);

    /// <summary>The context the object belongs to.</summary>
    public CudaContext Context { get; }

    protected bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>Frees the object; called once, with <see cref="Context"/> current.</summary>
    protected abstract CuResult Release();

    /// <summary>What the object is, for the message of a failed free.</summary>
    protected abstract string Describe();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
            return;
        GC.SuppressFinalize(this);
        Interlocked.Decrement(ref s_live);
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(Release(), $"freeing {Describe()}");
    }

    ~CudaResource()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
            return;
        Interlocked.Decrement(ref s_live);
        try
        {
            // Finalizers run on their own thread: the context must be made current there first.
            if (!Context.IsDisposed && CudaApi.cuCtxSetCurrent(Context.Handle) == CuResult.Success)
                _ = Release();
        }
        catch
        {
            // A finalizer must not throw; the process may be shutting the driver down.
        }
    }

    /// <summary>
    /// For a constructor whose creating driver call failed: un-counts this owner without a finalizer
    /// (nothing was created, so <see cref="Release"/> finds nothing to free) and returns the exception to
    /// throw, naming <paramref name="call"/>.
    /// </summary>
    protected Exception CreationFailed(CuResult result, string call)
    {
        GC.SuppressFinalize(this);
        Dispose();
        return CudaCheck.Create(result, call);
    }

    protected void ThrowIfReleased()
    {
        if (IsReleased)
            throw new ObjectDisposedException(GetType().Name);
    }
}
