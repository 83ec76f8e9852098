using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Cuda.Streaming;
using FlashKMeans.Data;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Cuda.Backend;

/// <summary>
/// The CUDA backend: FlashAssign on tensor cores (or exact fp32), the sort-inverse centroid update and
/// all per-row state on one GPU, driven by the engine's Lloyd loop. Reaches the driver through
/// <c>libcuda.so.1</c> alone; the kernels ship as PTX inside this assembly.
/// </summary>
internal sealed class CudaBackend : IKMeansBackend, IKMeansBatchBackend, IStreamedPrediction, IMiniBatchBackend
{
    private readonly CudaSession _session;
    private readonly bool _deterministic;
    private readonly KMeansOptions _options;

    private CudaBackend(CudaSession session, KMeansOptions options)
    {
        _session = session;
        _options = options.Clone();
        _deterministic = options.DeterministicUpdate;
    }

    /// <summary>Opens device 0 with the options' precision and update mode.</summary>
    /// <exception cref="NotSupportedException">No CUDA GPU is usable; the message says why.</exception>
    public static CudaBackend Create(KMeansOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!CudaDevice.TryProbe(out string reason))
            throw new NotSupportedException($"No CUDA GPU is usable: {reason}");
        var (context, kernels) = CudaSharedDevice.Get(out var openTime);
        if (openTime > TimeSpan.Zero)
            options.Logger?.LogDebug("FlashKMeans: {Device} opened and its kernels loaded in {Milliseconds:F0} ms, once for the process.",
                context.Name, openTime.TotalMilliseconds);
        var session = new CudaSession(context, kernels, new CudaPrecision(options.Precision), ownsContext: false);
        foreach (string skipped in session.Kernels.Skipped)
            options.Logger?.LogWarning("FlashKMeans: {Skipped}", skipped);
        return new CudaBackend(session, options);
    }

    /// <summary>
    /// Creates the backend when a usable GPU exists. Never throws for a missing driver or device;
    /// <paramref name="reason"/> says what was found.
    /// </summary>
    public static bool TryCreate(KMeansOptions options, out CudaBackend? backend, out string reason)
    {
        ArgumentNullException.ThrowIfNull(options);
        backend = null;
        if (!CudaDevice.TryProbe(out reason))
            return false;
        try
        {
            backend = Create(options);
            reason = $"{backend.Name}: {reason}";
            return true;
        }
        catch (Exception e) when (e is CudaException or NotSupportedException)
        {
            reason = e.Message;
            options.Logger?.LogWarning("FlashKMeans: a CUDA device exists but could not be used: {Reason}", e.Message);
            return false;
        }
    }

    /// <summary>The device's name.</summary>
    public string DeviceName => _session.Context.Name;

    /// <inheritdoc />
    public string Name =>
        $"cuda ({_session.Context.Name}, sm_{_session.Context.ComputeCapability}, {_session.Precision.Mode}{(_session.UsesWarpSpecialised ? " on warp-specialised wgmma" : _session.UsesWgmma ? " on wgmma" : "")}{(_deterministic ? ", deterministic" : "")})";

    // Cosine fits bind unit-length rows, whatever the data's scale.
    private void ThrowIfOutOfRange(DataSummary summary)
    {
        if (_options.Distance == KMeansDistance.SquaredEuclidean)
            _session.Precision.ThrowIfOutOfRange(summary.MaximumAbsoluteValue);
    }

    /// <inheritdoc />
    public IKMeansDataBinding Bind(IBatchSource source, DataSummary summary, int numberOfClusters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(numberOfClusters, 1);
        // L1: k-medians, the rows held on the host for the medians, the distances on the GPU.
        if (_options.Distance == KMeansDistance.Manhattan)
            return new Cpu.ManhattanDataBinding(source, summary, numberOfClusters, _options.EffectiveThreads, cancellationToken,
                (centroids, d) => new CudaManhattanScorer(_session, centroids, d));
        ThrowIfOutOfRange(summary);
        // Resident, cached or streamed, by the options' DataMode and the sizes (CudaBindingFactory.cs).
        return CudaBindingFactory.Bind(_session, _options, source, summary, numberOfClusters, cancellationToken);
    }

    /// <summary>
    /// Binds equally sized problems that fit the device together as one <see cref="CudaBatch"/>, stepped by one
    /// launch sequence; <c>null</c> (each problem bound on its own) where they differ in size or must stream.
    /// </summary>
    IKMeansBatchStepper? IKMeansBatchBackend.TryBindBatch(IReadOnlyList<IBatchSource> sources, IReadOnlyList<DataSummary> summaries,
        int numberOfClusters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(summaries);
        ArgumentOutOfRangeException.ThrowIfLessThan(numberOfClusters, 1);
        foreach (var summary in summaries)
            ThrowIfOutOfRange(summary);
        var logger = _options.Logger;
        int b = sources.Count;
        long n = summaries[0].RowCount;
        int d = sources[0].Dimension;
        bool weighted = sources[0].HasWeights;
        string? why = null;
        if (summaries.Any(s => s.RowCount != n) || sources.Any(s => s.Dimension != d || s.HasWeights != weighted))
            why = "the problems differ in size";
        else if (_options.Distance == KMeansDistance.Manhattan)
            why = "L1 fits take their medians on the host, one problem at a time";
        else if (b > 65535)
            why = $"{b} problems exceed one launch's grid";
        else if ((long)b * n > int.MaxValue)
            why = $"{(long)b * n} rows in all exceed 32-bit row indices";
        else if (StreamingPlanner.Plan(_session, _options, d, b * n) is { Mode: not GpuDataMode.InMemory } plan)
            why = $"the batch does not stay resident ({plan.Reason})";
        if (why is not null)
        {
            logger?.LogInformation("FlashKMeans: {Problems} problems bound one by one and stepped in turn: {Reason}.", b, why);
            return null;
        }
        logger?.LogInformation("FlashKMeans: {Problems} problems of {Rows} rows resident on the GPU as one batch, stepped together.", b, n);
        return new CudaBatchBinding(_session, sources, n, numberOfClusters, cancellationToken);
    }

    /// <inheritdoc />
    public IKMeansScorer CreateScorer(ReadOnlyMemory<float> centroids, int dimension) => _options.Distance == KMeansDistance.Manhattan
        ? new CudaManhattanScorer(_session, centroids.Span, dimension)
        : new CudaScorer(_session, centroids.Span, dimension);

    /// <inheritdoc />
    /// <remarks>Streamed through pinned buffers batch by batch (see <see cref="StreamingPrediction"/>).</remarks>
    public void PredictStreamed(IBatchSource source, long rows, ReadOnlySpan<float> centroids, bool withDistances,
        LabelBatchHandler handler, CancellationToken cancellationToken)
    {
        // The streamed pass runs the squared-Euclidean FlashAssign kernels; L1 labels come from CreateScorer.
        if (_options.Distance == KMeansDistance.Manhattan)
            throw new NotSupportedException("The streamed GPU prediction computes squared Euclidean distances; L1 models score through CreateScorer.");
        StreamingPrediction.Run(_session, _options, source, rows, centroids, withDistances, handler, cancellationToken);
    }

    /// <inheritdoc />
    public IMiniBatchStepper CreateMiniBatchStepper(int numberOfClusters, int dimension, int batchRows, bool normalizeCentroids,
        ComputePrecision centroidPrecision) =>
        new CudaMiniBatchStepper(_session, numberOfClusters, dimension, batchRows, normalizeCentroids, centroidPrecision, _options.EffectiveThreads);

    /// <summary>The session, for the benchmark and tests in this repository.</summary>
    internal CudaSession Session => _session;

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
