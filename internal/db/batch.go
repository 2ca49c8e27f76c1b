package db

import (
	"context"
	"database/sql"
	"fmt"
)

// SQLite has one writer, and a commit costs far more than the statements of a typical request
// (the WAL append of every page touched). Write transactions are therefore group-committed: one
// goroutine runs the requests waiting at that moment in one transaction, each inside its own
// savepoint so a failing request rolls back alone, commits once, and then answers them all. Each
// request's changes are durable when its Tx call returns, exactly as with a transaction of its own.

const maxBatch = 64

type txRequest struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

// batcher serialises and groups write transactions on a single-connection pool.
type batcher struct {
	w    *sql.DB
	reqs chan *txRequest
	stop chan struct{}
}

func newBatcher(w *sql.DB) *batcher {
	b := &batcher{w: w, reqs: make(chan *txRequest), stop: make(chan struct{})}
	go b.loop()
	return b
}

func (b *batcher) close() { close(b.stop) }

func (b *batcher) do(ctx context.Context, fn func(*sql.Tx) error) error {
	r := &txRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stop:
		return fmt.Errorf("db: closed")
	}
	return <-r.done
}

func (b *batcher) loop() {
	for {
		var first *txRequest
		select {
		case first = <-b.reqs:
		case <-b.stop:
			return
		}
		batch := []*txRequest{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.run(batch)
	}
}

// run executes a batch in one transaction and answers every request.
func (b *batcher) run(batch []*txRequest) {
	errs := make([]error, len(batch))
	answer := func(commitErr error) {
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = commitErr
			}
			r.done <- errs[i]
		}
	}
	tx, err := b.w.BeginTx(context.Background(), nil)
	if err != nil {
		answer(fmt.Errorf("db: begin: %w", err))
		return
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.Exec("SAVEPOINT request"); err != nil {
			tx.Rollback()
			answer(fmt.Errorf("db: savepoint: %w", err))
			return
		}
		errs[i] = call(r, tx)
		undo := "RELEASE request"
		if errs[i] != nil {
			undo = "ROLLBACK TO request; RELEASE request"
		}
		if _, err := tx.Exec(undo); err != nil {
			// The transaction itself is gone (an I/O error, say): nothing of it can commit.
			tx.Rollback()
			answer(fmt.Errorf("db: transaction aborted: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		answer(fmt.Errorf("db: commit: %w", err))
		return
	}
	answer(nil)
}

// call runs one request's function, turning a panic into its error so the batch goes on.
func call(r *txRequest, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("db: panic in transaction: %v", p)
		}
	}()
	return r.fn(tx)
}
