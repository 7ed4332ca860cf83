package store

import "context"

// checkedKey is the context key of CheckedDocuments.
type checkedKey struct{}

// CheckedDocuments returns ctx marked to say that the JSON documents written with it (the
// JSON columns of events passed to InsertEvent and InsertEvents, and the documents of
// CompleteParams and FailParams) are well-formed: the writer produced or checked them
// itself. A store may then skip its own well-formedness check of those documents; it still
// checks everything else. Only code that knows its documents are well-formed may use it:
// a store is free to keep an ill-formed document written this way as it is.
func CheckedDocuments(ctx context.Context) context.Context {
	return context.WithValue(ctx, checkedKey{}, true)
}

// DocumentsChecked reports whether ctx was marked by CheckedDocuments.
func DocumentsChecked(ctx context.Context) bool {
	v, _ := ctx.Value(checkedKey{}).(bool)
	return v
}
