namespace FlashKMeans.Cuda.Native;

/// <summary>
/// An instantiated CUDA graph captured from a stream: a whole sequence of launches, memsets and copies
/// replayed with one call, which removes the per-launch overhead that dominates small problems. The
/// captured work keeps its arguments (device pointers, sizes), so it replays on the same buffers.
/// </summary>
internal sealed class CudaGraph : CudaResource
{
    private CudaGraph(CudaContext context, nint exec)
        : base(context)
    {
        Exec = exec;
    }

    public nint Exec { get; private set; }

    /// <summary>Records what <paramref name="enqueue"/> puts on <paramref name="stream"/> (nothing runs yet).</summary>
    public static CudaGraph Capture(CudaStream stream, Action enqueue)
    {
        var context = stream.Context;
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuStreamBeginCapture(stream.Handle, CuStreamCaptureMode.ThreadLocal));
        CuResult ended;
        nint graph;
        try
        {
            enqueue();
        }
        finally
        {
            // Always end the capture, or the stream stays unusable; an exception from enqueue wins.
            ended = CudaApi.cuStreamEndCapture(stream.Handle, out graph);
        }
        if (ended != CuResult.Success)
        {
            if (graph != 0)
                _ = CudaApi.cuGraphDestroy(graph);
            throw CudaCheck.Create(ended, "cuStreamEndCapture");
        }
        try
        {
            CudaCheck.ThrowIfFailed(CudaApi.cuGraphInstantiateWithFlags(out nint exec, graph, 0));
            return new CudaGraph(context, exec);
        }
        finally
        {
            _ = CudaApi.cuGraphDestroy(graph);  // the executable graph is independent of its template
        }
    }

    public void Launch(CudaStream stream)
    {
        ThrowIfReleased();
        CudaCheck.ThrowIfFailed(CudaApi.cuGraphLaunch(Exec, stream.Handle));
    }

    protected override CuResult Release()
    {
        if (Exec == 0)
            return CuResult.Success;
        var result = CudaApi.cuGraphExecDestroy(Exec);
        Exec = 0;
        return result;
    }

    protected override string Describe() => "graph";
}
