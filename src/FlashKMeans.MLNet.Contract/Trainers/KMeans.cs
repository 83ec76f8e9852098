// Offline contract: mirrors the public shape of Microsoft.ML.KMeansClustering 5.0.0 (KMeansModelParameters,
// KMeansTrainer, KMeansClusteringExtensions) and of ClusteringPredictionTransformer<TModel>. The internal
// constructors have the same signatures as in ML.NET so that the plugin's reflection route is exercised
// offline exactly as it runs against the real package.
using System;
using System.Collections.Generic;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.Trainers
{
    public sealed class KMeansModelParameters
    {
        private readonly int _k;
        private readonly int _dimensionality;
        private readonly VBuffer<float>[] _centroids;

        internal KMeansModelParameters(IHostEnvironment env, int k, VBuffer<float>[] centroids, bool copyIn)
        {
            if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "Need at least one cluster");
            if (centroids == null || centroids.Length < k) throw new ArgumentException("Not enough centroids for predictor initialization", nameof(centroids));
            _k = k;
            _dimensionality = centroids[0].Length;
            _centroids = new VBuffer<float>[k];
            for (int i = 0; i < k; i++)
            {
                if (centroids[i].Length != _dimensionality)
                    throw new ArgumentException("Inconsistent dimensions found among centroids", nameof(centroids));
                foreach (var v in centroids[i].GetValues())
                    if (!float.IsFinite(v))
                        throw new ArgumentException("Cannot initialize K-means predictor with non-finite centroid coordinates", nameof(centroids));
                if (copyIn)
                    centroids[i].CopyTo(ref _centroids[i]);
                else
                    _centroids[i] = centroids[i];
            }
        }

        public void GetClusterCentroids(ref VBuffer<float>[] centroids, out int k)
        {
            if (centroids == null || centroids.Length < _k)
                Array.Resize(ref centroids, _k);
            for (int i = 0; i < _k; i++)
                _centroids[i].CopyTo(ref centroids[i]);
            k = _k;
        }
    }

    public class KMeansTrainer : IEstimator<ClusteringPredictionTransformer<KMeansModelParameters>>
    {
        public enum InitializationAlgorithm
        {
            KMeansPlusPlus = 0,
            Random = 1,
            KMeansYinyang = 2,
        }

        public sealed class Options
        {
            public string FeatureColumnName = "Features";
            public string ExampleWeightColumnName;
            public int NumberOfClusters = 5;
            public InitializationAlgorithm InitializationAlgorithm = InitializationAlgorithm.KMeansYinyang;
            public float OptimizationTolerance = (float)1e-7;
            public int MaximumNumberOfIterations = 1000;
            public int AccelerationMemoryBudgetMb = 4 * 1024;
            public int? NumberOfThreads;
        }

        internal KMeansTrainer() { }

        public ClusteringPredictionTransformer<KMeansModelParameters> Fit(IDataView input) => throw Offline.NotSupported("KMeansTrainer.Fit");

        public SchemaShape GetOutputSchema(SchemaShape inputSchema) => throw Offline.NotSupported("KMeansTrainer.GetOutputSchema");
    }
}

namespace Microsoft.ML
{
    public static class KMeansClusteringExtensions
    {
        public static KMeansTrainer KMeans(this ClusteringCatalog.ClusteringTrainers catalog,
            string featureColumnName = "Features", string exampleWeightColumnName = null, int numberOfClusters = 5)
            => new KMeansTrainer();

        public static KMeansTrainer KMeans(this ClusteringCatalog.ClusteringTrainers catalog, KMeansTrainer.Options options)
            => new KMeansTrainer();
    }
}

namespace Microsoft.ML.Data
{
    public sealed class ClusteringPredictionTransformer<TModel> : ISingleFeaturePredictionTransformer<TModel>, IDisposable
        where TModel : class
    {
        private readonly DataViewSchema _trainSchema;

        internal ClusteringPredictionTransformer(IHostEnvironment env, TModel model, DataViewSchema inputSchema, string featureColumn,
            float threshold = 0f, string thresholdColumn = "Score")
        {
            Model = model ?? throw new ArgumentNullException(nameof(model));
            _trainSchema = inputSchema ?? throw new ArgumentNullException(nameof(inputSchema));
            FeatureColumnName = featureColumn;
            var col = inputSchema.GetColumnOrNull(featureColumn)
                ?? throw new ArgumentOutOfRangeException(nameof(featureColumn), $"Could not find feature column '{featureColumn}'");
            FeatureColumnType = col.Type;
        }

        public TModel Model { get; }
        public string FeatureColumnName { get; }
        public DataViewType FeatureColumnType { get; }
        bool ITransformer.IsRowToRowMapper => true;

        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => throw Offline.NotSupported("ML.NET's ClusteringScorer");
        public IDataView Transform(IDataView input) => throw Offline.NotSupported("ML.NET's ClusteringScorer");
        IRowToRowMapper ITransformer.GetRowToRowMapper(DataViewSchema inputSchema) => throw Offline.NotSupported("ML.NET's ClusteringScorer");
        void ICanSaveModel.Save(ModelSaveContext ctx) => throw Offline.NotSupported("Saving ML.NET models");
        public void Dispose() { }
    }
}
