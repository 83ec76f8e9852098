using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// The seeding state that both GPU bindings keep on the device whatever their data mode: D(x), each row's
/// squared distance to the nearest seed so far, plus the seeds added since the last reset. Only the pass
/// that lowers D differs between the resident and the streamed binding, so each supplies that and shares
/// everything here, which keeps their potentials, samples and walks identical.
/// </summary>
internal sealed class DeviceSeedDistances : IDisposable
{
    /// <summary>Chunk totals the cumulative walk reduces on the device before reading any row back.</summary>
    private const int CumulativeChunks = 1024;

    private readonly CudaSession _s;
    private readonly long _n;
    private readonly float[]? _hostWeights;
    private readonly ulong _weights;
    private readonly List<float> _seedsSinceReset = [];
    private DeviceBuffer<float>? _distances;

    /// <param name="session">Where the reductions run.</param>
    /// <param name="rows">N.</param>
    /// <param name="hostWeights">Row weights on the host, or <c>null</c> for unit weights.</param>
    /// <param name="weights">The same weights on the device, or 0.</param>
    public DeviceSeedDistances(CudaSession session, long rows, float[]? hostWeights, ulong weights)
    {
        _s = session;
        _n = rows;
        _hostWeights = hostWeights;
        _weights = weights;
    }

    /// <summary>D on the device; an error before the first <see cref="Add"/>.</summary>
    public DeviceBuffer<float> Current =>
        _distances ?? throw new InvalidOperationException("Seed distances are not initialised.");

    /// <summary>The seeds added since the last reset, row-major.</summary>
    public float[] SeedsSinceReset => _seedsSinceReset.ToArray();

    /// <summary>
    /// Records <paramref name="newSeeds"/> (after setting D to +∞ when <paramref name="reset"/>) and returns D
    /// for the caller's pass to lower.
    /// </summary>
    public DeviceBuffer<float> Add(ReadOnlySpan<float> newSeeds, bool reset)
    {
        _s.Context.MakeCurrent();
        _distances ??= new DeviceBuffer<float>(_s.Context, _n);
        if (reset)
        {
            _distances.Fill32(0x7f800000u, _s.Stream);  // +∞
            _seedsSinceReset.Clear();
        }
        _seedsSinceReset.AddRange(newSeeds);
        return _distances;
    }

    /// <summary>The potential Σ w·D(x).</summary>
    public double Potential() => _s.WeightedTotal(Current.Pointer, _weights, _n);

    /// <summary>
    /// The rows at which the running sum of w·D first exceeds each target: chunk totals on the device first;
    /// only the chunks that hold a target are read back and walked row by row on the host, in row order.
    /// </summary>
    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows)
    {
        var seed = Current;
        _s.Context.MakeCurrent();
        int chunks = (int)Math.Min(CumulativeChunks, Math.Max(1, _n));
        long per = (_n + chunks - 1) / chunks;
        using var partials = new DeviceBuffer<double>(_s.Context, chunks);
        _s.ChunkSums(seed.Pointer, _weights, _n, chunks, partials.Pointer);
        var totals = new double[chunks];
        partials.CopyTo(totals, 0, _s.Stream);
        int t = HostRowSelection.WalkChunks(totals, per, _n, _hostWeights, sortedTargets, rows,
            (first, destination) => seed.CopyTo(destination, first, _s.Stream));
        if (t < sortedTargets.Length)
            HostRowSelection.FillRemaining(sortedTargets, rows, t, HostRowSelection.LastPositiveRow(OnHost(), _hostWeights));
    }

    /// <summary>Rows drawn independently with probability min(1, scale·w·D), as on every backend.</summary>
    public IReadOnlyList<long> SampleByPotential(double scale, ulong seed)
    {
        _s.Context.MakeCurrent();
        return HostRowSelection.SampleByPotential(OnHost(), _hostWeights, scale, seed);
    }

    private float[] OnHost()
    {
        var values = new float[_n];
        Current.CopyTo(values, 0, _s.Stream);
        return values;
    }

    public void Dispose()
    {
        _distances?.Dispose();
        _distances = null;
    }
}
