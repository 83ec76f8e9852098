using System.Numerics;
using System.Runtime.InteropServices;

namespace FlashKMeans.Cuda.Streaming;

/// <summary>
/// The labels and distances of all N rows of a streamed fit kept in host memory (<see cref="LabelPlacement.Host"/>):
/// 8 bytes a row of native memory, indexed with 64-bit rows. The labels double as the previous labels:
/// storing a batch's new labels counts how many differ from the ones they replace, which is the step's
/// label-change count (an integer, so batch by batch it equals the GPU's count over the full arrays).
/// </summary>
internal sealed unsafe class HostLabelStore : IDisposable
{
    private int* _labels;
    private float* _distances;

    /// <param name="rows">N.</param>
    public HostLabelStore(long rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        RowCount = rows;
        nuint count = (nuint)Math.Max(rows, 1);
        _labels = (int*)NativeMemory.Alloc(count, sizeof(int));
        try
        {
            _distances = (float*)NativeMemory.Alloc(count, sizeof(float));
        }
        catch
        {
            NativeMemory.Free(_labels);
            _labels = null;
            throw;
        }
        ResetLabels();
    }

    /// <summary>N.</summary>
    public long RowCount { get; }

    /// <summary>Every row's distance to its centroid, as last stored.</summary>
    public float* Distances => _distances != null ? _distances : throw new ObjectDisposedException(nameof(HostLabelStore));

    /// <summary>All labels, for fits of at most 2³¹ − 1 rows.</summary>
    public ReadOnlySpan<int> LabelSpan => new(Checked(_labels), checked((int)RowCount));

    /// <summary>All distances, for fits of at most 2³¹ − 1 rows.</summary>
    public ReadOnlySpan<float> DistanceSpan => new(Checked(_distances), checked((int)RowCount));

    private static T* Checked<T>(T* pointer) where T : unmanaged =>
        pointer != null ? pointer : throw new ObjectDisposedException(nameof(HostLabelStore));

    /// <summary>Marks every label as unknown (−1), so that the next store counts every row as changed.</summary>
    public void ResetLabels()
    {
        for (long first = 0; first < RowCount; first += int.MaxValue)
            new Span<int>(Checked(_labels) + first, (int)Math.Min(int.MaxValue, RowCount - first)).Fill(-1);
    }

    /// <summary>
    /// Stores rows [<paramref name="first"/>, <paramref name="first"/> + count) and returns how many of their
    /// labels differ from the ones stored before.
    /// </summary>
    /// <param name="first">First row.</param>
    /// <param name="labels">New labels.</param>
    /// <param name="distances">New distances, as many as labels, or empty to leave the distances alone.</param>
    public long Store(long first, ReadOnlySpan<int> labels, ReadOnlySpan<float> distances)
    {
        if (first < 0 || first + labels.Length > RowCount)
            throw new ArgumentOutOfRangeException(nameof(first), $"Rows [{first}, {first + labels.Length}) are outside [0, {RowCount}).");
        if (!distances.IsEmpty && distances.Length != labels.Length)
            throw new ArgumentException($"{labels.Length} labels but {distances.Length} distances.", nameof(distances));
        var stored = new Span<int>(Checked(_labels) + first, labels.Length);
        long changed = CountDifferences(stored, labels);
        labels.CopyTo(stored);
        if (!distances.IsEmpty)
            distances.CopyTo(new Span<float>(_distances + first, distances.Length));
        return changed;
    }

    /// <summary>How many positions of two equal-length spans differ.</summary>
    internal static long CountDifferences(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        long count = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var differing = Vector<int>.Zero;
            for (; i <= a.Length - Vector<int>.Count; i += Vector<int>.Count)
                differing -= Vector.OnesComplement(Vector.Equals(new Vector<int>(a[i..]), new Vector<int>(b[i..])));  // −(−1) per difference
            Vector.Widen(differing, out Vector<long> low, out Vector<long> high);
            count = Vector.Sum(low + high);
        }
        for (; i < a.Length; i++)
            count += a[i] != b[i] ? 1 : 0;
        return count;
    }

    public void Dispose()
    {
        NativeMemory.Free(_labels);
        NativeMemory.Free(_distances);
        _labels = null;
        _distances = null;
    }
}
