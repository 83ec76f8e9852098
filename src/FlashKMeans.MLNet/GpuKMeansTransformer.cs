using FlashKMeans.Clustering;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace FlashKMeans.MLNet;

/// <summary>
/// A fitted FlashKMeans clustering model as an ML.NET transformer. It appends the columns ML.NET's KMeans
/// scorer appends: <c>Score</c>, a vector of the K squared Euclidean distances to the centroids, and
/// <c>PredictedLabel</c>, a key (UInt32, cardinality K) holding the 1-based index of the nearest centroid,
/// or 0 when the row cannot be scored: its features are missing (NaN or infinite), or its squared length exceeds
/// <see cref="FlashKMeans.Data.DataValidator.MaximumSquaredNorm"/> so its float32 distances overflow. Such a row's
/// <c>Score</c> is all NaN, as ML.NET's scorer gives key 0 where every distance is NaN.
/// </summary>
/// <remarks>
/// <para><see cref="Transform"/> scores blocks of rows with one engine call each, on the device the trainer was
/// given (a CUDA GPU under <see cref="ComputeDevice.Auto"/> when one is usable, else the SIMD CPU);
/// <see cref="GetRowToRowMapper"/> scores one row at a time for <c>PredictionEngine</c>. Both give identical values.</para>
/// <para><b>Saving.</b> <c>mlContext.Model.Save</c> writes ML.NET's own KMeans model — a
/// <see cref="ClusteringPredictionTransformer{TModel}"/> over <see cref="KMeansModelParameters"/> holding these
/// centroids in this order — so the zip loads, scores identically, evaluates and exports to ONNX in applications
/// that do not reference FlashKMeans. Loading gives ML.NET's transformer back; call
/// <see cref="FlashKMeansModelExtensions.ToFlashKMeans(ITransformer, ComputeDevice, int)"/> to score it with FlashKMeans again.
/// ML.NET offers no public way to construct those two types, so <see cref="ToMLNetTransformer"/> calls their internal
/// constructors by reflection (see docs/mlnet.md for the trade-off).</para>
/// </remarks>
public sealed class GpuKMeansTransformer : ITransformer, IDisposable
{
    private readonly KMeansModel _model;
    private readonly BatchScorer _scorer;
    private readonly int _blockRows;
    private readonly object _mlnetLock = new();
    private ClusteringPredictionTransformer<KMeansModelParameters>? _mlnet;
    private readonly MiniBatchKMeans? _miniBatchState;

    internal GpuKMeansTransformer(KMeansModel model, string featureColumnName, DataViewType? featureColumnType, int blockRows,
        ScoringDevice device, GpuKMeansTrainingSummary? summary, MiniBatchKMeans? miniBatchState = null)
    {
        _model = model;
        _miniBatchState = miniBatchState;
        _scorer = new BatchScorer(model, device);
        _blockRows = blockRows;
        FeatureColumnName = featureColumnName;
        // The training column's own type (its dimensions may be shaped, e.g. 8 × 16), which ML.NET's transformer
        // compares exactly when it is saved and loaded.
        FeatureColumnType = featureColumnType ?? new VectorDataViewType(NumberDataViewType.Single, model.Dimension);
        TrainingSummary = summary;
    }

    /// <summary>The feature column read by <see cref="Transform"/>: a vector of <see cref="Dimension"/> Single values.</summary>
    public string FeatureColumnName { get; }

    /// <summary>The type the feature column must have.</summary>
    public DataViewType FeatureColumnType { get; }

    /// <summary>K, the number of clusters; the cardinality of <c>PredictedLabel</c> and the length of <c>Score</c>.</summary>
    public int NumberOfClusters => _model.NumberOfClusters;

    /// <summary>d, the number of features.</summary>
    public int Dimension => _model.Dimension;

    /// <summary>The engine's model: centroids, inertia, per-iteration statistics, and scoring on raw arrays.</summary>
    public KMeansModel EngineModel => _model;

    /// <summary>What training saw (rows used and skipped, inertia, iterations); <c>null</c> for a model converted from ML.NET.</summary>
    public GpuKMeansTrainingSummary? TrainingSummary { get; }

    /// <summary>
    /// A copy of the mini-batch learner this model is a snapshot of, when it was trained with
    /// <see cref="KMeansAlgorithm.MiniBatch"/>: save it (<see cref="MiniBatchKMeans.Save(Stream)"/>) to continue the stream exactly
    /// later, as the ML.NET zip keeps only the centroids. <c>null</c> for Lloyd models.
    /// </summary>
    public MiniBatchKMeans? GetMiniBatchState() => _miniBatchState?.Clone();

    /// <summary>The centroids, one array of <see cref="Dimension"/> values per cluster; cluster <c>i</c> has key <c>i + 1</c>.</summary>
    public float[][] GetCentroids()
    {
        var flat = _model.Centroids.Span;
        var result = new float[NumberOfClusters][];
        for (int c = 0; c < result.Length; c++)
            result[c] = flat.Slice(c * Dimension, Dimension).ToArray();
        return result;
    }

    /// <summary>
    /// ML.NET's own model parameters for these centroids, as <c>KMeansTrainer</c>'s transformer exposes them through
    /// its <c>Model</c> property, so that code calling <c>Model.GetClusterCentroids(...)</c> keeps working.
    /// </summary>
    /// <exception cref="NotSupportedException">The model uses cosine distance, which ML.NET's KMeans model cannot express.</exception>
    public KMeansModelParameters Model => ToMLNetTransformer().Model;

    /// <summary>
    /// ML.NET's own clustering transformer with exactly these centroids, in this order: the object that
    /// <c>mlContext.Model.Save</c> writes for this transformer. Use it for ONNX export or anything else that needs
    /// ML.NET's type. It scores with ML.NET's code (slower), giving the same columns.
    /// </summary>
    /// <exception cref="NotSupportedException">The model uses cosine distance, which ML.NET's KMeans model cannot express.</exception>
    /// <exception cref="MissingMethodException">The referenced ML.NET is not a version whose internals this package knows.</exception>
    public ClusteringPredictionTransformer<KMeansModelParameters> ToMLNetTransformer()
    {
        lock (_mlnetLock)
        {
            if (_mlnet is not null)
                return _mlnet;
            if (_model.Distance != KMeansDistance.SquaredEuclidean)
                throw new NotSupportedException(
                    $"This model was trained with {_model.Distance} distance; ML.NET's KMeans model scores squared Euclidean distances, " +
                    "so it cannot be saved as one. Train with KMeansDistance.SquaredEuclidean (on unit-length features for cosine-like clusters).");
            if (!_model.FeatureWeights.IsEmpty)
                throw new NotSupportedException(
                    "This model weighs its features (AutomaticFeatureWeights); ML.NET's KMeans model scores unweighted distances, so saved as one it " +
                    "would score differently. Save the engine model (EngineModel.Save) instead, or train without feature weights.");
            // Any environment will do: the objects only use it for their host and error reporting.
            IHostEnvironment env = new MLContext();
            var parameters = MLNetInternals.CreateKMeansParameters(env, _model.Centroids.Span, NumberOfClusters, Dimension);
            var schema = new DataViewSchema.Builder();
            schema.AddColumn(FeatureColumnName, FeatureColumnType);
            _mlnet = MLNetInternals.CreateClusteringTransformer(env, parameters, schema.ToSchema(), FeatureColumnName);
            return _mlnet;
        }
    }

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus Score and PredictedLabel.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing or not a vector of <see cref="Dimension"/> Single values.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.FindFeatures(inputSchema, FeatureColumnName, Dimension, nameof(inputSchema));
        return ClusteringColumns.AppendTo(inputSchema, NumberOfClusters);
    }

    /// <summary>Scores <paramref name="input"/> lazily, a block of rows per engine call, as its cursors advance.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var features = ClusteringColumns.FindFeatures(input.Schema, FeatureColumnName, Dimension, nameof(input));
        return new ScoredDataView(input, features, _scorer, _blockRows);
    }

    /// <summary>Single-row scoring, as <c>PredictionEngine</c> uses.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var features = ClusteringColumns.FindFeatures(inputSchema, FeatureColumnName, Dimension, nameof(inputSchema));
        return new ScoringRowMapper(inputSchema, features, _scorer);
    }

    /// <summary>Writes ML.NET's own KMeans transformer for these centroids (see <see cref="ToMLNetTransformer"/>).</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)ToMLNetTransformer()).Save(ctx);

    /// <summary>The engine backend scoring runs on (for example a named GPU), once a row has been scored.</summary>
    public string ScoringBackend => _scorer.Backend;

    /// <summary>Releases the scoring backend's resources (GPU memory) and the ML.NET transformer made by <see cref="ToMLNetTransformer"/>.</summary>
    public void Dispose()
    {
        _scorer.Dispose();
        (_mlnet as IDisposable)?.Dispose();
    }
}
