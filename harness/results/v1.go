package results

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Version 1 files carried events as sentences (kind, object, message, phase,
// value). readV1 turns them into typed events, so that one report reads
// both; this is the only place that parses those sentences, and only the
// ones an older blastradius wrote, in the formats it wrote them.

type v1Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Object  string    `json:"object"`
	Message string    `json:"message"`
	Phase   string    `json:"phase"`
	Value   string    `json:"value"`
}

type v1Run struct {
	Run
	Events []v1Event `json:"events"` // shadows Run.Events
}

type v1File struct {
	SchemaVersion int         `json:"schemaVersion"`
	Environment   Environment `json:"environment"`
	Runs          []v1Run     `json:"runs"`
}

func readV1(data []byte) (*File, error) {
	var old v1File
	if err := json.Unmarshal(data, &old); err != nil {
		return nil, err
	}
	f := &File{SchemaVersion: SchemaVersion, Environment: old.Environment, Runs: make([]Run, len(old.Runs))}
	for i, r := range old.Runs {
		f.Runs[i] = r.Run
		f.Runs[i].Events = make([]Event, len(r.Events))
		for j, e := range r.Events {
			f.Runs[i].Events[j] = e.convert(r.Faults)
		}
	}
	return f, nil
}

func (e v1Event) convert(faults []FaultRecord) Event {
	out := Event{Time: e.Time, Kind: EventKind(e.Kind), Object: e.Object}
	switch e.Kind {
	case "rollout":
		// "phase %s step %d/%d weight %d abort %t %s"
		var s RolloutStatus
		var phase string
		if _, err := fmt.Sscanf(e.Message, "phase %s step %d/%d weight %d abort %t", &phase, &s.Step, &s.Steps, &s.Weight, &s.Abort); err == nil {
			s.Phase = phase
			head := fmt.Sprintf("phase %s step %d/%d weight %d abort %t", phase, s.Step, s.Steps, s.Weight, s.Abort)
			s.Message = strings.TrimSpace(strings.TrimPrefix(e.Message, head)) // Argo's status.message
			out.Rollout = &s
			return out
		}
	case "measurement":
		metric := e.Object[strings.LastIndex(e.Object, "/")+1:]
		run := strings.TrimSuffix(strings.TrimSuffix(e.Object, metric), "/")
		out.Measurement = &Measurement{AnalysisRun: run, Metric: metric, Phase: MeasurementPhase(e.Phase), Value: e.Value,
			Message: strings.TrimSpace(strings.TrimPrefix(e.Message, e.Phase))}
		return out
	case "analysis-run":
		out.AnalysisRun = &AnalysisRunStatus{Phase: strings.TrimPrefix(e.Message, "phase ")}
		return out
	case "fault":
		// "injected: <description>[ (<error>)]" or "cleared: ..."
		out.Kind = EventFaultInjected
		desc, cleared := strings.CutPrefix(e.Message, "cleared: ")
		if cleared {
			out.Kind = EventFaultCleared
		} else {
			desc = strings.TrimPrefix(e.Message, "injected: ")
		}
		out.Fault = &FaultChange{Index: -1, Description: desc}
		for i, fr := range faults {
			if strings.HasPrefix(desc, fr.Description) {
				out.Fault.Index, out.Fault.Kind, out.Fault.Description, out.Fault.Error = i, fr.Kind, fr.Description, fr.Error
				break
			}
		}
		return out
	case "load":
		out.Kind = EventLoadStarted
		if e.Message == "load stopped" {
			out.Kind = EventLoadStopped
		}
	}
	out.Detail = e.Message
	return out
}
