//! orbflow's end-to-end suites, in `tests/tests/`: `orbflow` processes
//! (`dev`, `api`, `worker`, `run`) started on 127.0.0.1 over real Postgres
//! and Redis, and failure drills (workers killed or paused, Redis losing its
//! queue, connections cut). The harness is `orbflow-testkit`; this library
//! is empty and exists so that the package has a target besides its tests.
