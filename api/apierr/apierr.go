// Package apierr classifies the errors of the engine, the rules and the
// auth layer once, for both APIs: gRPC returns the code, HTTP maps it to a
// status, and both name the offending field.
package apierr

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/riskgate/riskgate/api/auth"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/capture"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
)

// Error is a classified error.
type Error struct {
	Code    codes.Code
	Field   string // the JSON name of the offending field, when known
	Message string
	// Reason is what is wrong with Field, without its name.
	Reason string
	// Details are the individual problems of a rejected ruleset.
	Details []rules.Problem
}

func (e *Error) Error() string { return e.Message }

// Classify turns err into an Error. Internal errors keep their message for
// the log; callers must not show it to clients (see Public).
func Classify(err error) *Error {
	var (
		fe  *engine.FieldError
		rej *rules.RejectedError
		ae  *Error
	)
	var brej *service.BaselineRejectedError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &brej):
		return &Error{Code: codes.InvalidArgument, Field: "baseline_files", Message: "baseline ruleset rejected: " + brej.RejectedError.Error(), Details: brej.Problems}
	case errors.As(err, &fe):
		return &Error{Code: codes.InvalidArgument, Field: fe.Field, Message: fe.Error(), Reason: fe.Msg}
	case errors.As(err, &rej):
		return &Error{Code: codes.InvalidArgument, Field: "files", Message: "ruleset rejected: " + err.Error(), Details: rej.Problems}
	case errors.Is(err, rules.ErrInvalid):
		return &Error{Code: codes.InvalidArgument, Field: "files", Message: err.Error()}
	case errors.Is(err, rules.ErrNoRule):
		return &Error{Code: codes.NotFound, Field: "rule_id", Message: err.Error()}
	case errors.Is(err, rules.ErrNotShadow), errors.Is(err, rules.ErrCannotEdit):
		return &Error{Code: codes.FailedPrecondition, Field: "rule_id", Message: err.Error()}
	case errors.Is(err, rules.ErrTenantsFolderUnavailable):
		// The operator's to fix (a volume to mount); the put can be sent
		// again then. The message names the tenant, not the server's path.
		return &Error{Code: codes.Unavailable, Message: err.Error()}
	case errors.Is(err, rules.ErrVersionMismatch):
		return &Error{Code: codes.Aborted, Field: "if_version", Message: err.Error()}
	case errors.Is(err, capture.ErrOtherSecret), errors.Is(err, replay.ErrOtherSecret), errors.Is(err, replay.ErrBadInput):
		return &Error{Code: codes.FailedPrecondition, Message: err.Error()}
	case errors.Is(err, service.ErrNoCapture):
		return &Error{Code: codes.FailedPrecondition, Message: service.ErrNoCapture.Error()}
	case errors.Is(err, service.ErrEmptyCapture):
		return &Error{Code: codes.FailedPrecondition, Message: service.ErrEmptyCapture.Error()}
	case errors.Is(err, service.ErrBusy):
		return &Error{Code: codes.ResourceExhausted, Message: service.ErrBusy.Error()}
	case errors.Is(err, service.ErrNoProfile):
		return &Error{Code: codes.NotFound, Message: service.ErrNoProfile.Error()}
	case errors.Is(err, engine.ErrUnknownDecision):
		return &Error{Code: codes.NotFound, Field: "decision_id", Message: "unknown, expired or already reported decision"}
	case errors.Is(err, auth.ErrUnauthenticated):
		return &Error{Code: codes.Unauthenticated, Message: err.Error()}
	case errors.Is(err, auth.ErrPermissionDenied):
		return &Error{Code: codes.PermissionDenied, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: codes.DeadlineExceeded, Message: "deadline exceeded"}
	case errors.Is(err, context.Canceled):
		return &Error{Code: codes.Canceled, Message: "canceled"}
	case errors.Is(err, engine.ErrUnavailable):
		return &Error{Code: codes.Unavailable, Message: "state store unavailable"}
	}
	return &Error{Code: codes.Internal, Message: err.Error()}
}

// Public is the message a client may see: internal errors are not
// described, as they can carry addresses and other internals (they are
// logged instead).
func (e *Error) Public() string {
	if e.Code == codes.Internal {
		return "internal error"
	}
	return e.Message
}

// HTTPStatus maps a gRPC code to an HTTP status, as google.rpc does.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.FailedPrecondition:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.Aborted, codes.AlreadyExists:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Canceled:
		return 499 // client closed request
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// CodeName is the JSON error code: the gRPC code in snake case
// ("invalid_argument").
func CodeName(c codes.Code) string {
	switch c {
	case codes.OK:
		return "ok"
	case codes.Canceled:
		return "canceled"
	case codes.Unknown:
		return "unknown"
	case codes.InvalidArgument:
		return "invalid_argument"
	case codes.DeadlineExceeded:
		return "deadline_exceeded"
	case codes.NotFound:
		return "not_found"
	case codes.AlreadyExists:
		return "already_exists"
	case codes.PermissionDenied:
		return "permission_denied"
	case codes.ResourceExhausted:
		return "resource_exhausted"
	case codes.FailedPrecondition:
		return "failed_precondition"
	case codes.Aborted:
		return "aborted"
	case codes.OutOfRange:
		return "out_of_range"
	case codes.Unimplemented:
		return "unimplemented"
	case codes.Unavailable:
		return "unavailable"
	case codes.DataLoss:
		return "data_loss"
	case codes.Unauthenticated:
		return "unauthenticated"
	}
	return "internal"
}
