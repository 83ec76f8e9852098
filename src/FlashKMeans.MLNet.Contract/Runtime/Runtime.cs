// Offline contract: mirrors the public shape of Microsoft.ML.Core 5.0.0 Environment/IHostEnvironment.cs
// (only what the plugin touches: channels for log lines).
using System;

namespace Microsoft.ML.Runtime
{
    public interface IChannelProvider
    {
        IChannel Start(string name);
    }

    public interface IHostEnvironment : IChannelProvider
    {
    }

    public interface IPipe<TMessage> : IDisposable
    {
        void Send(TMessage msg);
    }

    public enum ChannelMessageKind
    {
        Trace = 0,
        Info = 1,
        Warning = 2,
        Error = 3,
    }

    [Flags]
    public enum MessageSensitivity
    {
        None = 0,
        UserData = 0x1,
        Schema = 0x2,
        Unknown = ~None,
        All = Unknown,
    }

    public readonly struct ChannelMessage
    {
        public readonly ChannelMessageKind Kind;
        public readonly MessageSensitivity Sensitivity;
        private readonly string _message;
        private readonly object[] _args;

        internal ChannelMessage(ChannelMessageKind kind, MessageSensitivity sensitivity, string fmt, object[] args)
        {
            Kind = kind;
            Sensitivity = sensitivity;
            _message = fmt;
            _args = args;
        }

        public string Message => _args != null && _args.Length > 0 ? string.Format(_message, _args) : _message;
    }

    public interface IChannel : IPipe<ChannelMessage>
    {
        void Trace(MessageSensitivity sensitivity, string fmt);
        void Trace(MessageSensitivity sensitivity, string fmt, params object[] args);
        void Error(MessageSensitivity sensitivity, string fmt);
        void Error(MessageSensitivity sensitivity, string fmt, params object[] args);
        void Warning(MessageSensitivity sensitivity, string fmt);
        void Warning(MessageSensitivity sensitivity, string fmt, params object[] args);
        void Info(MessageSensitivity sensitivity, string fmt);
        void Info(MessageSensitivity sensitivity, string fmt, params object[] args);
    }

    /// <summary>Contract-only: the channel that turns messages into <see cref="MLContext.Log"/> events.</summary>
    internal sealed class LogChannel : IChannel
    {
        private readonly MLContext _owner;
        private readonly string _name;

        public LogChannel(MLContext owner, string name)
        {
            _owner = owner;
            _name = name;
        }

        public void Send(ChannelMessage msg) => _owner.RaiseLog(_name, msg.Kind, msg.Message);
        public void Dispose() { }
        public void Trace(MessageSensitivity sensitivity, string fmt) => Send(new ChannelMessage(ChannelMessageKind.Trace, sensitivity, fmt, null));
        public void Trace(MessageSensitivity sensitivity, string fmt, params object[] args) => Send(new ChannelMessage(ChannelMessageKind.Trace, sensitivity, fmt, args));
        public void Error(MessageSensitivity sensitivity, string fmt) => Send(new ChannelMessage(ChannelMessageKind.Error, sensitivity, fmt, null));
        public void Error(MessageSensitivity sensitivity, string fmt, params object[] args) => Send(new ChannelMessage(ChannelMessageKind.Error, sensitivity, fmt, args));
        public void Warning(MessageSensitivity sensitivity, string fmt) => Send(new ChannelMessage(ChannelMessageKind.Warning, sensitivity, fmt, null));
        public void Warning(MessageSensitivity sensitivity, string fmt, params object[] args) => Send(new ChannelMessage(ChannelMessageKind.Warning, sensitivity, fmt, args));
        public void Info(MessageSensitivity sensitivity, string fmt) => Send(new ChannelMessage(ChannelMessageKind.Info, sensitivity, fmt, null));
        public void Info(MessageSensitivity sensitivity, string fmt, params object[] args) => Send(new ChannelMessage(ChannelMessageKind.Info, sensitivity, fmt, args));
    }
}
