package transform

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
)

// DefaultCacheSize is the number of programs a Cache keeps when NewCache is given no
// positive size.
const DefaultCacheSize = 128

// Cache compiles rules once per content: Compile returns the program compiled earlier
// from rules with the same content (name, version, description, fields in order, tables,
// inverse), so callers that receive rules by value on every call, such as an API that
// applies rules to a sample, do not compile them again. It keeps at most its size of
// programs, dropping the least recently used. Programs are safe for concurrent use, so one
// program serves every caller. A Cache is safe for concurrent use.
//
// Rules whose defaults or table values hold Go types other than those JSON decodes to
// (nil, bool, string, json.Number, float64, the integer types, []any, map[string]any) are
// compiled on every call: their content cannot be keyed without reflecting over arbitrary
// values. Compile errors are not cached.
type Cache struct {
	opts []Option
	size int

	mu    sync.Mutex
	items map[[sha256.Size]byte]*list.Element
	lru   list.List // of *cacheItem, most recently used first

	compiles int64 // guarded by mu
}

type cacheItem struct {
	key  [sha256.Size]byte
	prog *Program
}

// NewCache returns an empty cache keeping up to size programs (DefaultCacheSize when
// size <= 0), compiled with opts.
func NewCache(size int, opts ...Option) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Cache{opts: opts, size: size, items: make(map[[sha256.Size]byte]*list.Element, size)}
}

// Compile returns the program of r: a cached one when rules of the same content were
// compiled before, else a new one (Compile with the cache's options), which is cached.
// Errors are Compile's.
func (c *Cache) Compile(r Rules) (*Program, error) {
	key, ok := rulesKey(r)
	if ok {
		c.mu.Lock()
		if el, hit := c.items[key]; hit {
			c.lru.MoveToFront(el)
			p := el.Value.(*cacheItem).prog
			c.mu.Unlock()
			return p, nil
		}
		c.mu.Unlock()
	}
	p, err := Compile(r, c.opts...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.compiles++
	if err != nil || !ok {
		return p, err
	}
	if el, hit := c.items[key]; hit {
		// Compiled meanwhile by another caller: keep one program.
		c.lru.MoveToFront(el)
		return el.Value.(*cacheItem).prog, nil
	}
	c.items[key] = c.lru.PushFront(&cacheItem{key: key, prog: p})
	for c.lru.Len() > c.size {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.items, last.Value.(*cacheItem).key)
	}
	return p, nil
}

// Len returns the number of cached programs.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Compiles returns how many times the cache compiled rules (its misses, including rules
// that could not be keyed and rules that failed to compile).
func (c *Cache) Compiles() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.compiles
}

// rulesKey returns the SHA-256 of r's content in an unambiguous encoding (every string
// length-prefixed, every value tagged with its type), and false when r holds a value of a
// type it does not encode.
func rulesKey(r Rules) ([sha256.Size]byte, bool) {
	var scratch [1024]byte
	k := keyWriter{b: scratch[:0]}
	if !k.rules(&r) {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(k.b), true
}

// keyWriter encodes rules for rulesKey.
type keyWriter struct{ b []byte }

func (k *keyWriter) tag(t byte) { k.b = append(k.b, t) }

func (k *keyWriter) uint(v uint64) { k.b = binary.AppendUvarint(k.b, v) }

func (k *keyWriter) str(s string) {
	k.uint(uint64(len(s)))
	k.b = append(k.b, s...)
}

func (k *keyWriter) rules(r *Rules) bool {
	k.tag('R')
	k.str(r.Name)
	k.uint(uint64(int64(r.Version)))
	k.str(r.Description)
	k.uint(uint64(len(r.Fields)))
	for _, f := range r.Fields {
		k.str(f.Target)
		k.str(f.Expr)
		k.str(f.When)
		if !k.value(f.Default) {
			return false
		}
	}
	if r.Tables == nil {
		k.tag('-')
	} else {
		k.tag('T')
		names := slices.Sorted(maps.Keys(r.Tables))
		k.uint(uint64(len(names)))
		for _, n := range names {
			k.str(n)
			if !k.object(r.Tables[n]) {
				return false
			}
		}
	}
	if r.Inverse == nil {
		k.tag('-')
		return true
	}
	return k.rules(r.Inverse)
}

func (k *keyWriter) object(m map[string]any) bool {
	if m == nil {
		k.tag('0')
		return true
	}
	k.tag('m')
	keys := slices.Sorted(maps.Keys(m))
	k.uint(uint64(len(keys)))
	for _, key := range keys {
		k.str(key)
		if !k.value(m[key]) {
			return false
		}
	}
	return true
}

// value encodes the types JSON decoding produces and Go's scalar types, each with its own
// tag, so that values a program would return differently (1 and "1", int 1 and float 1)
// never share a key.
func (k *keyWriter) value(v any) bool {
	switch v := v.(type) {
	case nil:
		k.tag('n')
	case bool:
		if v {
			k.tag('t')
		} else {
			k.tag('f')
		}
	case string:
		k.tag('s')
		k.str(v)
	case json.Number:
		k.tag('N')
		k.str(string(v))
	case float64:
		k.tag('d')
		k.uint(math.Float64bits(v))
	case float32:
		k.tag('e')
		k.uint(uint64(math.Float32bits(v)))
	case int:
		k.signed('i', int64(v))
	case int8:
		k.signed('1', int64(v))
	case int16:
		k.signed('2', int64(v))
	case int32:
		k.signed('4', int64(v))
	case int64:
		k.signed('8', v)
	case uint:
		k.unsigned('u', uint64(v))
	case uint8:
		k.unsigned('!', uint64(v))
	case uint16:
		k.unsigned('@', uint64(v))
	case uint32:
		k.unsigned('$', uint64(v))
	case uint64:
		k.unsigned('*', v)
	case []any:
		if v == nil {
			k.tag('9')
			return true
		}
		k.tag('a')
		k.uint(uint64(len(v)))
		for _, e := range v {
			if !k.value(e) {
				return false
			}
		}
	case map[string]any:
		return k.object(v)
	default:
		return false
	}
	return true
}

func (k *keyWriter) signed(t byte, v int64) {
	k.tag(t)
	k.str(strconv.FormatInt(v, 10))
}

func (k *keyWriter) unsigned(t byte, v uint64) {
	k.tag(t)
	k.uint(v)
}
