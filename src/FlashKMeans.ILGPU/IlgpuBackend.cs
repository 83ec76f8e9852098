using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace FlashKMeans.ILGPU;

/// <summary>
/// The engine on an ILGPU accelerator: its kernels (<see cref="IlgpuKernels"/>) compiled by ILGPU for an OpenCL or
/// CUDA GPU, or run by ILGPU's CPU accelerator (how CI tests them). The Lloyd loop, seeding, convergence and the
/// empty-cluster policy are the engine's; this backend supplies assignment, update and data movement. Scoring of new
/// rows uses the CPU backend's scorer.
/// </summary>
internal sealed class IlgpuBackend : IKMeansBackend
{
    private readonly Context _context;
    private readonly Action<Index1D, ArrayView<float>, int, ArrayView<float>> _norms;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, ArrayView<int>, ArrayView<float>> _assign;
    private readonly int _side;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<int>> _countLabels;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>> _placeRows;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, int, int, float, float, ArrayView<long>, ArrayView<long>> _sumGrouped;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, ArrayView<float>, ArrayView<int>> _lower;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>> _candidates;

    /// <summary>A backend on <paramref name="accelerator"/> of <paramref name="context"/>, which it owns and disposes.</summary>
    internal IlgpuBackend(Context context, Accelerator accelerator)
    {
        _context = context;
        Accelerator = accelerator;
        _norms = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(TiledAssignKernel.Norms);
        _assign = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, ArrayView<int>, ArrayView<float>>(
            TiledAssignKernel.Assign);
        _side = TiledAssignKernel.Side(accelerator.MaxNumThreadsPerGroup);
        _countLabels = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>>(IlgpuKernels.CountLabels);
        _placeRows = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>>(IlgpuKernels.PlaceRows);
        _sumGrouped = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, int, int, float, float,
            ArrayView<long>, ArrayView<long>>(IlgpuKernels.SumGroupedRows);
        _lower = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, ArrayView<float>, ArrayView<int>>(IlgpuKernels.LowerSeedDistances);
        _candidates = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>>(IlgpuKernels.CandidateDistances);
    }

    /// <summary>The accelerator the kernels run on.</summary>
    public Accelerator Accelerator { get; }

    // The assignment's centroid norms, grown to the largest K seen; one stream orders every launch, so one buffer serves.
    private MemoryBuffer1D<float, Stride1D.Dense>? _centroidNorms;

    /// <summary>
    /// The first GPU accelerator ILGPU finds (CUDA, then OpenCL), else, unless <paramref name="gpuOnly"/>, its CPU
    /// accelerator; <c>null</c> and the reason where none suits.
    /// </summary>
    public static (IKMeansBackend? Backend, string Reason) Create(KMeansOptions options, bool gpuOnly)
    {
        var context = Context.Create(builder => builder.Default());
        try
        {
            var device = context.Devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.Cuda)
                ?? context.Devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.OpenCL)
                ?? (gpuOnly ? null : context.Devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.CPU));
            if (device is null)
            {
                context.Dispose();
                return (null, "ILGPU found no GPU accelerator");
            }
            return (new IlgpuBackend(context, device.CreateAccelerator(context)), "");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string Name => $"ilgpu ({Accelerator.AcceleratorType}: {Accelerator.Name})";

    /// <inheritdoc />
    public IKMeansDataBinding Bind(IBatchSource source, DataSummary summary, int numberOfClusters, CancellationToken cancellationToken)
    {
        if (summary.RowCount > int.MaxValue)
            throw new NotSupportedException($"The ILGPU backend holds at most {int.MaxValue} rows; this source has {summary.RowCount}.");
        return new IlgpuDataBinding(this, source, summary, numberOfClusters, cancellationToken);
    }

    /// <inheritdoc />
    public IKMeansScorer CreateScorer(ReadOnlyMemory<float> centroids, int dimension) =>
        new CpuScorer(centroids.Span, dimension, Environment.ProcessorCount);

    internal void Assign(int n, ArrayView<float> rows, ArrayView<float> centroids, int d, int k, ArrayView<int> labels, ArrayView<float> distances)
    {
        if (n == 0)
            return;
        if (_centroidNorms is null || _centroidNorms.Length < k)
        {
            _centroidNorms?.Dispose();
            _centroidNorms = Accelerator.Allocate1D<float>(k);
        }
        var norms = _centroidNorms.View.SubView(0, k);
        _norms(k, centroids, d, norms);
        int tile = 4 * _side;
        _assign(new KernelConfig((n + tile - 1) / tile, _side * _side), rows, centroids, norms, n, d, k, _side, labels, distances);
    }

    /// <summary>Rows of the grouped order one item of <see cref="IlgpuKernels.SumGroupedRows"/> reads.</summary>
    internal const int GroupedSpan = 256;

    /// <summary>
    /// Adds every row's scaled weighted features and scaled weight to its cluster's fixed-point sums (zeroed first): the
    /// rows are grouped by label (a count, a scan of the K counts on the host, a placement), then summed run by run
    /// (<see cref="IlgpuKernels.SumGroupedRows"/>), with one atomic per cluster run and feature rather than per row and
    /// feature. <paramref name="counts"/> and <paramref name="cursors"/> hold K, <paramref name="order"/> n.
    /// </summary>
    internal void Accumulate(int n, ArrayView<float> rows, ArrayView<float> weights, ArrayView<int> labels, int d, int k, float scale, float weightScale,
        ArrayView<long> sums, ArrayView<long> weightSums, ArrayView<int> counts, ArrayView<int> cursors, ArrayView<int> order, int[] hostCounts)
    {
        sums.MemSetToZero();
        weightSums.MemSetToZero();
        if (n == 0)
            return;
        counts.MemSetToZero();
        _countLabels(n, labels, counts);
        counts.CopyToCPU(hostCounts);
        for (int c = 0, offset = 0; c < k; c++)
            (hostCounts[c], offset) = (offset, offset + hostCounts[c]);
        cursors.CopyFromCPU(hostCounts);
        _placeRows(n, labels, cursors, order);
        _sumGrouped(checked((n + GroupedSpan - 1) / GroupedSpan * d), rows, weights, labels, order, n, d, GroupedSpan, scale, weightScale, sums, weightSums);
    }

    internal void LowerSeedDistances(int n, ArrayView<float> rows, ArrayView<float> seeds, int d, int count, int firstSeed,
        ArrayView<float> seedDistances, ArrayView<int> owners)
    {
        if (n > 0)
            _lower(n, rows, seeds, d, count, firstSeed, seedDistances, owners);
    }

    internal void CandidateDistances(int n, ArrayView<float> rows, ArrayView<float> candidates, int d, int count, ArrayView<float> seedDistances,
        ArrayView<float> output)
    {
        if (n > 0)
            _candidates(n, rows, candidates, d, count, seedDistances, output);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _centroidNorms?.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }
}
