// Package llm is a standalone LLM judge for progressive delivery: it turns
// what both versions of a rollout served (an Evidence: metric summaries,
// per-interval series, bounded log excerpts) into one chat-completions call
// on an OpenAI-compatible endpoint, asks for a strict JSON answer (promote or
// not, confidence, root cause, category, remediation), parses it tolerantly
// and maps it to an analyzer verdict. Timeouts, refusals, rate limits, server
// errors and unparseable answers become the verdict the Config's Policy names
// (inconclusive by default), with the reason; every call is recorded
// (latency, tokens, cost, retries, status, raw answer).
//
// It is not in the analyzer catalog (harness/analysis/catalog.go) yet: an
// LLM's answer is neither free nor a pure function of the input, so it does
// not satisfy the analyzer.Analyzer contract as it stands.
//
// CI runs no real model. The tests drive the client against scripted local
// httptest servers that speak the chat-completions wire format; every answer
// they return is hand-written test data, never a model's judgement. One live
// test runs only when OPENAI_BASE_URL (and OPENAI_MODEL) are set.
package llm
