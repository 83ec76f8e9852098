// Offline contract: mirrors the public shape of Microsoft.ML.Data 5.0.0 MLContext.cs, TrainCatalog.cs,
// ModelOperationsCatalog.cs and TransformsCatalog.cs. Members that need the real ML.NET (model zips,
// evaluators, ML.NET's own trainers and transforms) exist so that code compiles, and throw
// PlatformNotSupportedException when called offline.
using System;
using System.IO;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML
{
    public class LoggingEventArgs : EventArgs
    {
        public LoggingEventArgs(string message, ChannelMessageKind kind, string source)
        {
            Message = message;
            Kind = kind;
            Source = source;
            RawMessage = message;
        }

        public string Message { get; }
        public string RawMessage { get; }
        public ChannelMessageKind Kind { get; }
        public string Source { get; }
    }

    public sealed class MLContext : IHostEnvironment
    {
        public MLContext(int? seed = null)
        {
            Seed = seed;
            Data = new DataOperationsCatalog(this);
            Model = new ModelOperationsCatalog(this);
            Clustering = new ClusteringCatalog(this);
            Transforms = new TransformsCatalog(this);
        }

        internal int? Seed { get; }

        public DataOperationsCatalog Data { get; }
        public ModelOperationsCatalog Model { get; }
        public ClusteringCatalog Clustering { get; }
        public TransformsCatalog Transforms { get; }

        public event EventHandler<LoggingEventArgs> Log;

        internal void RaiseLog(string source, ChannelMessageKind kind, string message)
            => Log?.Invoke(this, new LoggingEventArgs($"[Source={source}, Kind={kind}] {message}", kind, source));

        IChannel IChannelProvider.Start(string name) => new LogChannel(this, name);
    }

    internal static class Offline
    {
        public static PlatformNotSupportedException NotSupported(string what)
            => new PlatformNotSupportedException(
                $"{what} needs the real Microsoft.ML 5.0.0 package; this build uses the offline contract (MLNetSource=Contract).");
    }

    public abstract class TrainCatalogBase
    {
        private protected TrainCatalogBase(IHostEnvironment env)
        {
            Environment = env;
        }

        // Internal in ML.NET ([BestFriend]), which is why third-party trainers need reflection to log through it.
        internal IHostEnvironment Environment { get; }

        public sealed class CrossValidationResult<TMetrics>
            where TMetrics : class
        {
            private CrossValidationResult() { }
            public readonly ITransformer Model;
            public readonly TMetrics Metrics;
            public readonly IDataView ScoredHoldOutSet;
            public readonly int Fold;
        }

        public abstract class CatalogInstantiatorBase
        {
            internal TrainCatalogBase Owner { get; }

            private protected CatalogInstantiatorBase(TrainCatalogBase catalog)
            {
                Owner = catalog;
            }
        }
    }

    public sealed class ClusteringCatalog : TrainCatalogBase
    {
        internal ClusteringCatalog(IHostEnvironment env) : base(env)
        {
            Trainers = new ClusteringTrainers(this);
        }

        public ClusteringTrainers Trainers { get; }

        public sealed class ClusteringTrainers : CatalogInstantiatorBase
        {
            internal ClusteringTrainers(ClusteringCatalog catalog) : base(catalog) { }
        }

        public ClusteringMetrics Evaluate(IDataView data, string labelColumnName = null, string scoreColumnName = "Score", string featureColumnName = null)
            => throw Offline.NotSupported("ClusteringCatalog.Evaluate");

        public System.Collections.Generic.IReadOnlyList<CrossValidationResult<ClusteringMetrics>> CrossValidate(IDataView data,
            IEstimator<ITransformer> estimator, int numberOfFolds = 5, string labelColumnName = null, string featuresColumnName = null,
            string samplingKeyColumnName = null, int? seed = null)
            => throw Offline.NotSupported("ClusteringCatalog.CrossValidate");
    }

    public sealed class ModelOperationsCatalog
    {
        private readonly MLContext _context;

        internal ModelOperationsCatalog(MLContext context)
        {
            _context = context;
        }

        public void Save(ITransformer model, DataViewSchema inputSchema, Stream stream)
            => throw Offline.NotSupported("ModelOperationsCatalog.Save");

        public void Save(ITransformer model, DataViewSchema inputSchema, string filePath)
            => throw Offline.NotSupported("ModelOperationsCatalog.Save");

        public ITransformer Load(Stream stream, out DataViewSchema inputSchema)
            => throw Offline.NotSupported("ModelOperationsCatalog.Load");

        public ITransformer Load(string filePath, out DataViewSchema inputSchema)
            => throw Offline.NotSupported("ModelOperationsCatalog.Load");

        public PredictionEngine<TSrc, TDst> CreatePredictionEngine<TSrc, TDst>(ITransformer transformer, bool ignoreMissingColumns = true,
            SchemaDefinition inputSchemaDefinition = null, SchemaDefinition outputSchemaDefinition = null)
            where TSrc : class
            where TDst : class, new()
            => new PredictionEngine<TSrc, TDst>(_context, transformer);
    }

    public sealed class TransformsCatalog
    {
        internal TransformsCatalog(IHostEnvironment env)
        {
            Environment = env;
        }

        internal IHostEnvironment Environment { get; }
    }
}

namespace Microsoft.ML.Data
{
    /// <summary>Only a parameter type in the contract.</summary>
    public sealed class SchemaDefinition
    {
        private SchemaDefinition() { }
    }

    public sealed class ClusteringMetrics
    {
        private ClusteringMetrics() { }
        public double NormalizedMutualInformation { get; }
        public double AverageDistance { get; }
        public double DaviesBouldinIndex { get; }
    }
}
