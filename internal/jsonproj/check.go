package jsonproj

// Check verifies that data holds exactly one well-formed JSON value of any kind (object,
// array, string, number, literal) in valid UTF-8, nested at most o.MaxDepth deep (0 means
// 10000), with the same rules and errors as Decode: a *SyntaxError (ErrSyntax) for
// malformed input, ErrTooDeep for nesting. It allocates nothing on success and is safe for
// concurrent use. o.UseNumber is ignored.
func Check(data []byte, o Options) error {
	if o.MaxDepth <= 0 {
		o.MaxDepth = 10000
	}
	d := decoder{data: data, opt: o}
	if _, err := d.value(nil, 0); err != nil {
		return err
	}
	d.ws()
	if d.i != len(d.data) {
		return d.fail("data after the top-level value")
	}
	return nil
}
