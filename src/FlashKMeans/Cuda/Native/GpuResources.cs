using FlashKMeans.Backends;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cuda.Native;

/// <summary>
/// GPU resources an object owns (buffers, streams, events, page-locked memory), freed together, last first since later ones
/// may depend on earlier ones. A failure to free one is collected and the rest are still freed.
/// </summary>
internal sealed class GpuResources
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>Resources held.</summary>
    public int Count => _owned.Count;

    /// <summary>Takes <paramref name="resource"/> into the set and returns it.</summary>
    public T Own<T>(T resource) where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    /// <summary>Frees everything in the set, last first, and empties it; failures are added to <paramref name="errors"/>.</summary>
    public void Free(ref List<Exception>? errors)
    {
        Disposal.DisposeInReverse(_owned, e => e is CudaException or AggregateException, ref errors);
        _owned.Clear();
    }

    /// <summary>Frees everything in the set; throws the failures together, naming <paramref name="what"/>.</summary>
    public void Free(string what)
    {
        List<Exception>? errors = null;
        Free(ref errors);
        if (errors is not null)
            throw new AggregateException($"Freeing {what} failed.", errors);
    }
}
