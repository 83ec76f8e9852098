using Microsoft.ML;

namespace FlashKMeans.MLNet;

/// <summary>
/// What a transformer's scoring view and row mapper need of its model: blocks of feature rows in, a vector of scores
/// and a key per row out, and the columns those become.
/// </summary>
internal interface IBlockScorer
{
    /// <summary>Features per row.</summary>
    int Dimension { get; }

    /// <summary>Scores per row (the Score vector's length).</summary>
    int NumberOfScores { get; }

    /// <summary>Rows per block for a requested block size (wide rows or many scores take fewer).</summary>
    int RowsPerBlock(int requested);

    /// <summary>Scores <paramref name="count"/> rows; rows that cannot be scored get NaN scores and key 0 (rows may be overwritten).</summary>
    void Score(Span<float> rows, int count, Span<float> scores, Span<uint> labels);

    /// <summary>The input schema with Score and PredictedLabel appended.</summary>
    DataViewSchema AppendColumns(DataViewSchema input);

    /// <summary>The predicted tags of one row's scores, for scorers whose PredictedLabel is a vector of Boolean (multi-label).</summary>
    void Tags(ReadOnlySpan<float> scores, Span<bool> tags) => throw new NotSupportedException("This model predicts a key, not tags.");
}
