using FlashKMeans.Prototypes;
using Microsoft.ML;

namespace FlashKMeans.MLNet;

/// <summary>The predictions of blocks of rows (a scalar, or a vector for vector targets), from a <see cref="PrototypeRegressorModel"/>.</summary>
internal sealed class PrototypeRegressionScorer(PrototypeRegressorModel model) : IBlockScorer
{
    public int Dimension => model.Dimension;

    public int NumberOfScores => model.TargetDimension;

    public int RowsPerBlock(int requested) =>
        (int)Math.Clamp(Math.Min(requested, (16L << 20) / Math.Max(model.PrototypeTargets.Length, Dimension)), 1, requested);

    public void Score(Span<float> rows, int count, Span<float> scores, Span<uint> labels)
    {
        int d = Dimension;
        var missing = MissingRows.Clear(rows, count, d, model.Settings.MissingFeatures);  // scored as placeholders, then reported as missing
        int t = NumberOfScores;
        var predictions = model.Predict(rows[..(count * d)]);
        for (int i = 0; i < count; i++)
        {
            for (int j = 0; j < t; j++)
                scores[i * t + j] = missing[i] ? float.NaN : predictions[i * t + j];
            labels[i] = 0;
        }
    }

    public DataViewSchema AppendColumns(DataViewSchema input) => ClassificationColumns.AppendRegression(input, NumberOfScores);
}
