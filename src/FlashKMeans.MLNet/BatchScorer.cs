using FlashKMeans.Backends;
using FlashKMeans.Clustering;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;
using Microsoft.ML;

namespace FlashKMeans.MLNet;

/// <summary>
/// Turns a block of feature rows into the two output columns: K squared distances per row (one call to the
/// engine's all-distances kernel) and the 1-based index of the smallest of them. Rows that cannot be scored get
/// NaN distances and key 0, ML.NET's missing key: rows with a missing (NaN or infinite) feature, and, for
/// squared-Euclidean models, rows longer than <see cref="DataValidator.MaximumSquaredNorm"/> allows, whose float32
/// distances overflow to ∞ or ∞ − ∞ = NaN and say nothing about the nearest centroid.
/// </summary>
/// <remarks>
/// Squared-Euclidean models score through a scorer of the backend that <see cref="ComputeDevice"/> selects
/// (a CUDA GPU under <see cref="ComputeDevice.Auto"/> when one is usable, else the SIMD CPU), created on first
/// use and released by <see cref="Dispose"/>. Block scoring and single-row scoring share it, so both give the
/// same values. Cosine and L1 models score through <see cref="KMeansModel.Transform(ReadOnlySpan{float}, Span{float})"/>
/// on the CPU (cosine normalises the rows first).
/// </remarks>
internal sealed class BatchScorer : IBlockScorer, IDisposable
{
    private readonly KMeansModel _model;
    private readonly ScoringDevice _device;
    private readonly object _gate = new();
    private IKMeansBackend? _backend;
    private IKMeansScorer? _scorer;
    private bool _disposed;

    public BatchScorer(KMeansModel model, ScoringDevice device)
    {
        _model = model;
        _device = device;
        Dimension = model.Dimension;
        NumberOfClusters = model.NumberOfClusters;
    }

    /// <summary>The backend scoring runs on, once it has run ("not started" before).</summary>
    public string Backend => _backend?.Name ?? (_model.Distance != KMeansDistance.SquaredEuclidean ? "cpu (KMeansModel.Transform)" : "not started");

    public int Dimension { get; }

    public int NumberOfClusters { get; }

    public int NumberOfScores => NumberOfClusters;

    public DataViewSchema AppendColumns(DataViewSchema input) => ClusteringColumns.AppendTo(input, NumberOfClusters);

    /// <summary>
    /// Rows per scoring block such that the distance block and the feature block each stay near 16 M floats
    /// (wide features, such as hashed text, would otherwise overflow the block's array size).
    /// </summary>
    public int RowsPerBlock(int requested) =>
        (int)Math.Clamp(Math.Min(requested, (16L << 20) / Math.Max(NumberOfClusters, Dimension)), 1, requested);

    /// <summary>Scores <paramref name="count"/> rows of <paramref name="rows"/> in place of their outputs.</summary>
    /// <param name="rows">count × d features; rows that cannot be scored are overwritten with zeros so the engine never
    /// sees NaN or an overflowing row.</param>
    /// <param name="count">Rows to score.</param>
    /// <param name="scores">count × K distances (output).</param>
    /// <param name="labels">count keys (output).</param>
    public void Score(Span<float> rows, int count, Span<float> scores, Span<uint> labels)
    {
        int d = Dimension, k = NumberOfClusters;
        Span<bool> missing = count <= 1024 ? stackalloc bool[count] : new bool[count];
        bool anyMissing = false;
        // Cosine models score unit-length rows, so only squared-Euclidean rows can be too long.
        bool checkNorms = _model.Distance == KMeansDistance.SquaredEuclidean;
        for (int i = 0; i < count; i++)
        {
            var row = rows.Slice(i * d, d);
            if (!DataValidator.AllFinite(row) || (checkNorms && !FitsFloatDistances(row)))
            {
                missing[i] = true;
                anyMissing = true;
                row.Clear();
                // Cosine scoring normalises every row and rejects a zero one: give the placeholder a direction.
                // Its distances are overwritten with NaN below either way.
                if (_model.Distance == KMeansDistance.Cosine)
                    row[0] = 1;
            }
        }
        var distances = scores[..(count * k)];
        if (_model.Distance != KMeansDistance.SquaredEuclidean)
            _model.Transform(rows[..(count * d)], distances);
        else
            Scorer().AllDistances(rows[..(count * d)], distances);
        for (int i = 0; i < count; i++)
        {
            var row = distances.Slice(i * k, k);
            if (anyMissing && missing[i])
            {
                row.Fill(float.NaN);
                labels[i] = 0;
                continue;
            }
            labels[i] = (uint)(ArgMin(row) + 1);
        }
    }

    /// <summary>
    /// Whether the row's squared length is within <see cref="DataValidator.MaximumSquaredNorm"/>, computed as the
    /// validator and the trainer compute it, so a row training would reject is the row scoring reports as missing.
    /// </summary>
    private static bool FitsFloatDistances(ReadOnlySpan<float> row)
        => FlashKMeans.Primitives.VectorMath.SquaredNorm(row) <= DataValidator.MaximumSquaredNorm;

    private IKMeansScorer Scorer()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_scorer is not null)
                return _scorer;
            var options = new KMeansOptions { Device = _device.Device, Precision = _device.Precision, NumberOfThreads = _device.NumberOfThreads };
            _backend = BackendSelector.Create(options);
            try
            {
                _scorer = _model.CreateScorer(_backend.CreateScorer);
            }
            catch
            {
                _backend.Dispose();
                _backend = null;
                throw;
            }
            return _scorer;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _scorer?.Dispose();
            _backend?.Dispose();
            _scorer = null;
            _backend = null;
        }
    }

    /// <summary>
    /// First index of the smallest value, as ML.NET's clustering scorer picks it: NaN values are passed over, and a
    /// row of NaN alone gives −1 (so key 0). Rows that reach here have finite distances today; the rule keeps the
    /// key derived from the Score column the way ML.NET derives it, whatever a backend returns.
    /// </summary>
    private static int ArgMin(ReadOnlySpan<float> values)
    {
        int best = -1;
        float min = float.PositiveInfinity;
        for (int i = 0; i < values.Length; i++)
        {
            // <= on the first candidate only, so an all-∞ row still gets its first index, as ML.NET's does.
            if (values[i] < min || (best < 0 && values[i] == min))
            {
                min = values[i];
                best = i;
            }
        }
        return best;
    }
}

/// <summary>Where and how a transformer scores.</summary>
/// <param name="Device">The device; <see cref="ComputeDevice.Auto"/> prefers a usable CUDA GPU.</param>
/// <param name="Precision">GPU arithmetic of the distance products.</param>
/// <param name="NumberOfThreads">CPU threads; <c>null</c> uses every logical processor.</param>
internal readonly record struct ScoringDevice(ComputeDevice Device, ComputePrecision Precision, int? NumberOfThreads);
