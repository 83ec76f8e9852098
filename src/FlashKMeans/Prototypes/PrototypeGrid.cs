using FlashKMeans.Clustering;
using FlashKMeans.Cpu;
using FlashKMeans.Primitives;

namespace FlashKMeans.Prototypes;

/// <summary>
/// The distances from rows to a model's prototypes: the engine's scoring (<see cref="KMeansModel"/>: centred, every
/// distance, learned feature weights), and with <see cref="MissingFeatures.Ignore"/> rows that lack features measured
/// over the features they have, scaled by d / (features present), centred on the prototypes' mean first so that data
/// far from the origin keeps its digits.
/// </summary>
internal sealed class PrototypeGrid
{
    private readonly KMeansModel _model;
    private readonly bool _missing;
    private readonly float[] _shift;
    private readonly Lazy<MissingFeatureScorer> _incomplete;
    private readonly ComputeDevice _device;
    private readonly ComputePrecision _gpuPrecision;

    /// <param name="prototypes">P × d prototypes.</param>
    /// <param name="dimension">d.</param>
    /// <param name="distance">The distance between rows and prototypes.</param>
    /// <param name="featureWeights">d feature weights in the distance, or null.</param>
    /// <param name="missing">Whether NaN features are missing.</param>
    /// <param name="device">Where <see cref="Nearest(ReadOnlySpan{float}, int)"/> runs.</param>
    /// <param name="gpuPrecision">The tensor-core precision of the top-k on a GPU.</param>
    public PrototypeGrid(float[] prototypes, int dimension, KMeansDistance distance, float[]? featureWeights, MissingFeatures missing,
        ComputeDevice device = ComputeDevice.Cpu, ComputePrecision gpuPrecision = ComputePrecision.TensorFloat32)
    {
        _device = device;
        _gpuPrecision = gpuPrecision;
        _model = KMeansModel.FromPrototypes(prototypes, dimension, distance, featureWeights);
        _missing = missing == MissingFeatures.Ignore;
        int p = prototypes.Length / dimension;
        _shift = new float[dimension];
        for (int j = 0; j < dimension; j++)
        {
            double sum = 0;
            for (int i = 0; i < p; i++)
                sum += prototypes[i * dimension + j];
            _shift[j] = (float)(sum / p);
        }
        _incomplete = new(() => new MissingFeatureScorer(Centred(prototypes), dimension, Environment.ProcessorCount));
    }

    public KMeansDistance Distance => _model.Distance;

    public int Dimension => _model.Dimension;

    public int Count => _model.NumberOfClusters;

    /// <summary>n × P distances.</summary>
    public float[] Distances(ReadOnlySpan<float> rows)
    {
        if (!_missing || !MissingFeatureScorer.HasMissing(rows))
            return _model.Transform(rows);
        var distances = new float[(long)(rows.Length / Dimension) * Count];
        _incomplete.Value.AllDistances(Centred(rows), distances);
        return distances;
    }

    /// <summary>Each row's nearest prototype (ties to the lower index).</summary>
    public int[] Nearest(ReadOnlySpan<float> rows)
    {
        if (!_missing || !MissingFeatureScorer.HasMissing(rows))
            return _model.Predict(rows, Dimension);
        var distances = Distances(rows);
        var nearest = new int[rows.Length / Dimension];
        for (int r = 0; r < nearest.Length; r++)
            nearest[r] = System.Numerics.Tensors.TensorPrimitives.IndexOfMin(distances.AsSpan(r * Count, Count));
        return nearest;
    }

    /// <summary>
    /// Each row's <paramref name="count"/> nearest prototypes, nearest first (ties to the lower index), and their
    /// distances: n × count each. On the grid's device (a GPU's fused top-k), except for rows that lack features.
    /// </summary>
    public (int[] Indices, float[] Distances) Nearest(ReadOnlySpan<float> rows, int count)
    {
        int n = rows.Length / Dimension;
        var indices = new int[(long)n * count];
        var found = new float[(long)n * count];
        if (!_missing || !MissingFeatureScorer.HasMissing(rows))
        {
            _model.Nearest(rows, count, indices, found, _device, _gpuPrecision);
            return (indices, found);
        }
        TopKSelection.NearestOfRows(Distances(rows), Count, indices, found);
        return (indices, found);
    }

    /// <summary>Values less the prototypes' mean, per feature (NaN stays NaN).</summary>
    private float[] Centred(ReadOnlySpan<float> values)
    {
        var centred = values.ToArray();
        for (int i = 0; i < centred.Length; i++)
            centred[i] -= _shift[i % Dimension];
        return centred;
    }
}
