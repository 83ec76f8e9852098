using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// Centroids uploaded for one assignment or seeding pass (candidates, seeds, a model's centroids): the
/// stored form the assignment kernels read and the squared norms. Disposing frees the device memory.
/// </summary>
internal sealed class UploadedCentroids : IDisposable
{
    private readonly DeviceBuffer<byte> _packed;
    private readonly DeviceBuffer<float> _norms;

    private UploadedCentroids(DeviceBuffer<byte> packed, DeviceBuffer<float> norms, int count)
    {
        _packed = packed;
        _norms = norms;
        Count = count;
    }

    /// <summary>How many centroids.</summary>
    public int Count { get; }

    /// <summary>The centroids in the session's stored form, at the pitch <c>Precision.Pitch(d)</c>.</summary>
    public ulong Packed => _packed.Pointer;

    /// <summary>Their squared norms, of the stored values.</summary>
    public ulong Norms => _norms.Pointer;

    /// <summary>Converts fp32 centroids (count × <paramref name="dimension"/>) into the stored form and norms, on the session's stream.</summary>
    public static UploadedCentroids Upload(CudaSession session, ReadOnlySpan<float> centroids, int dimension)
    {
        var context = session.Context;
        int count = centroids.Length / dimension;
        int pitch = session.Precision.Pitch(dimension);
        // The fp32 copy is only the packing kernel's input: it is freed once the packing has run (below).
        using var raw = new DeviceBuffer<float>(context, Math.Max(1, centroids.Length));
        var packed = new DeviceBuffer<byte>(context, (long)Math.Max(1, count) * pitch * session.Precision.ElementBytes);
        DeviceBuffer<float>? norms = null;
        try
        {
            norms = new DeviceBuffer<float>(context, Math.Max(1, count));
            raw.CopyFrom(centroids, 0, session.Stream);
            session.PackRows(raw.Pointer, count, dimension, dimension, packed.Pointer, pitch, norms.Pointer);
            session.Stream.Synchronize();
            return new UploadedCentroids(packed, norms, count);
        }
        catch
        {
            norms?.Dispose();
            packed.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _packed.Dispose();
        _norms.Dispose();
    }
}
