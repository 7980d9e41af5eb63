// Package logctx carries log attributes in a context, so that every line
// logged under it, by any package, says which run it belongs to without
// each package knowing about runs.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns a context whose log lines carry attrs, after those of ctx.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(key{}).([]slog.Attr)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	all = append(append(all, prev...), attrs...)
	return context.WithValue(ctx, key{}, all)
}

type handler struct{ slog.Handler }

// Wrap returns a logger whose lines carry the attributes of the context
// they are logged with (LogAttrs, InfoContext, ...). Wrapping twice is the
// same as once.
func Wrap(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(handler); ok {
		return l
	}
	return slog.New(handler{l.Handler()})
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if attrs, ok := ctx.Value(key{}).([]slog.Attr); ok {
		r = r.Clone()
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.Handler.WithGroup(name)}
}
