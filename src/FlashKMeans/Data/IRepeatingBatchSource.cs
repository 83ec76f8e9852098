namespace FlashKMeans.Data;

/// <summary>
/// A batch source that can tell when its later passes cannot differ from the one already read: for example the ML.NET
/// trainer's source once its first pass has filled a copy of the rows in memory it owns, which every later pass reads.
/// The engine then skips checking later passes against the validation pass.
/// </summary>
internal interface IRepeatingBatchSource : IBatchSource
{
    /// <summary>Whether every pass from now on serves exactly the rows of the pass that has been read.</summary>
    bool PassesRepeat { get; }
}
