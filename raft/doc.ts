/**
 * # The cmqd Raft core
 *
 * `RaftNode` is consensus as a pure state machine (the etcd-raft model): it never reads a clock,
 * a disk, the network or `Math.random`. Time arrives through `tick()`, peers' messages through
 * `step()`, requests through `propose*()`, `transferLeadership()` and `readIndex()`; everything
 * it wants done comes back as a `Ready`.
 *
 * ## The Ready/advance contract
 *
 * The caller loops `while (node.hasReady()) { const ready = node.ready(); ...; node.advance(ready) }`
 * and for each Ready does, in this order:
 *
 * 1. **Persist** (and fsync) before anything else:
 *    a. `ready.snapshot`, if present: replace the whole stored log by it (storage's
 *       `firstIndex()` becomes `snapshot.index + 1`, `term(snapshot.index)` its term) and restore
 *       the state machine from the bytes the node's `SnapshotSink` received;
 *    b. `ready.entries`: if `ready.truncateFrom` is set, first drop every stored entry with index
 *       ≥ `truncateFrom` (a conflicting suffix), then append. (It is always
 *       `entries[0].index`; a store may equally apply "drop everything ≥ entries[0].index".)
 *    c. `ready.hardState`, if present (term, vote, commit) — after the entries it may refer to.
 * 2. **Send** `ready.messages`. A message may be dropped, duplicated or delayed; Raft copes.
 *    Sending before step 1 is durable would break safety: a vote or an acknowledged append
 *    could be forgotten by a crash.
 * 3. **Apply** `ready.committedEntries` in order (they may include entries from this very
 *    Ready: they were persisted in step 1). Config-change entries need no action from the
 *    application beyond tracking membership for its own snapshots.
 * 4. **Serve** `ready.readStates`: each read may be answered now that step 3 is done. Answer
 *    `ready.refusedReads` (forwarded reads the leader refused) as refused.
 * 5. **Advance**: `node.advance(ready)`. Only then does `hasReady()` turn true again.
 *
 * `tick()`, `step()`, `propose()` and the others may be called between `ready()` and
 * `advance()` (e.g. while an fsync is in flight); their effects go into the next Ready. This is
 * how group commit happens: proposals arriving during one write become the next single write,
 * and one append message per follower carries them all.
 *
 * A Ready marked `sendFirst` may have its messages sent before step 1 (a leader's parallel
 * write, dissertation §10.2.1): its own vote towards commit counts only after `advance()`
 * reports its entries durable, so commit still means "durable on a majority", and nothing a
 * leader sends vouches for its own disk. A one-voter group therefore commits an entry one Ready
 * after it is persisted. The mark needs the node to have led, in the same term with the same
 * vote, when the previous Ready was taken: a leader deposed and re-elected between two Readies
 * (one voter can do that alone) must persist its new term and vote before its appends leave,
 * though its role looks unchanged. Without the mark, send only after step 1.
 *
 * While a Ready is outstanding, `takeCommittedEntries(durableIndex)` hands out entries that
 * became committed since it was taken (a follower's ack during the leader's fsync), up to what
 * the caller holds durably, to apply at once instead of one Ready later. The caller must have
 * applied the outstanding Ready's own committed entries first; `advance()` then skips them.
 *
 * ## Proposals
 *
 * `propose()` returns `{ index, term }`. The proposal succeeded iff the committed entry at
 * `index` has that `term`; a different term there means another leader overwrote it. Failures
 * known at once are typed: `NotLeaderError` (with a leader hint), `ProposalDroppedError`
 * (transfer in progress, a config change pending, the uncommitted-bytes limit).
 *
 * ## Elections
 *
 * Timeouts are drawn from [electionTicks, 2·electionTicks) with the injected `Prng`. With
 * `preVote` a node first asks whether it could win without bumping its term, so a node returning
 * from a partition does not disrupt the group. With `checkQuorum` a leader that has not heard from
 * a majority within an election timeout steps down, and a follower that heard from a leader
 * within the last election timeout ignores (pre-)vote requests (a lease); leadership transfer's
 * `TimeoutNow` campaign overrides leases.
 *
 * ## Membership (dissertation §4.1, single-server changes)
 *
 * `proposeConfigChange({ type: "addLearner" | "promote" | "remove", nodeId })`. A configuration
 * takes effect on each node as soon as its entry is **appended** to that node's log, committed or
 * not; if the entry is later truncated the previous configuration returns. So that no two
 * majorities can disagree, a leader accepts a change only when the previous one is committed and
 * it has committed an entry in its own term. Add a node as a learner, wait for it to catch up
 * (see `status().progress`), then promote it. A leader cannot remove itself: transfer first.
 * On restart the membership is the storage's `initialState().config` (as of its snapshot) plus
 * the config entries found in the stored log (the constructor scans it once).
 *
 * ## Snapshots
 *
 * The application compacts its storage after snapshotting its applied state; `LogStorage.snapshot()`
 * then serves lagging followers, which receive it in `snapshotChunkBytes` chunks (in order, with
 * a window of `snapshotChunksInflightMax`, resent from the last acknowledged offset after two
 * silent heartbeats) and install it through `Ready.snapshot`.
 *
 * Snapshot bytes never pass through the core whole: a leader reads each chunk from the
 * `SnapshotSource` its storage hands out as the chunk goes out (so it holds at most a window of
 * chunks per follower), and a follower hands each chunk to its `SnapshotSink`
 * (`RaftNodeOptions.snapshotSink`) as it arrives. When all bytes came, the sink's `finish()`
 * decides whether they are sound; bytes it refuses are never installed and the leader is told
 * to start over from offset 0. A new term drops a partial transfer (`abort()`).
 *
 * ## ReadIndex
 *
 * `readIndex(requestId)` records the commit index, confirms leadership with a heartbeat round to
 * a quorum, then returns `{ requestId, index }` in a Ready whose committed entries reach that
 * index. A one-voter leader answers at once. A new leader first waits for its no-op to commit.
 * When the leader's configuration changes, pending rounds are checked against the new voters
 * with the acknowledgements they hold (a leader left as the sole voter answers them all).
 * A leader holds at most `readIndexPendingMax` unconfirmed reads, its own and those its
 * followers forward: over it, its own `readIndex` throws `ProposalDroppedError`
 * ("read-index-limit") and a forwarded one is refused back, to come out in the follower's
 * `Ready.refusedReads` (answer it the same way). A read forwarded by a node that is neither a
 * voter nor a learner of the leader's configuration is refused back the same way.
 *
 * ## Distrusted logs
 *
 * `setCanCampaign(false)` (or `options.canCampaign`) makes a node that found damage in its own
 * log a pure follower: it starts no (pre-)vote and grants none, but still accepts the leader's
 * appends and snapshots that repair it. The application sets it back once repaired.
 *
 * Any follower whose log ends below a heartbeat's commit index (it lost entries it had
 * acknowledged) clamps its commit to its log and answers with a rejection marked
 * `LOST_ENTRIES`; the leader then lowers that follower's match and re-sends from there. A
 * distrusting follower that is caught up may call `requestNewTerm()`: the leader hands
 * leadership to its most caught-up other active voter, so the next leader is elected without
 * the distrusting node's vote (see `broker/replication/recovery.ts` for why that matters).
 * A node that may not campaign (distrusting, below its vote floor, still installing a snapshot,
 * no voter in its own configuration, or removed) answers a leader transfer's `TimeoutNow` the
 * same way: the leader gives that transfer up at once and hands over to another voter, skipping
 * any that said lately that it may not campaign. The answer echoes the transfer's tag; a leader
 * ignores one answering a transfer that is over (it would hand over unasked).
 *
 * A node started with `options.fresh` (its log is empty: a new cluster, or a disk that was
 * replaced) grants votes only to candidates whose log is empty too, and stops voting and
 * campaigning as soon as a leader shows it a log; `takeLostState()` then tells the application
 * what to repair, as for a damaged log (see `fresh.ts`).
 *
 * ## Joining on an empty log
 *
 * A node added to a running group on an empty log may carry the id of a removed member. A
 * member that missed the removal (it was down) still counts that id as a voter, and would count
 * the new node's vote as the old one's: an empty log grants its vote to any candidate, so that
 * stale member could be elected without the entries its group committed since (the removal
 * among them). The application therefore starts such a node with `options.voteFloor`, the
 * group's commit index when it joined, and a hard state in the group's term at that time with
 * its vote of that term already spent (so a leader of an older term is refused, and it can't
 * vote twice in the term its old incarnation may have voted in). Below the floor it neither
 * campaigns nor grants votes; its log can only come from leaders of that term or later, who hold
 * every entry committed by then, so once it holds the floor index the ordinary up-to-date check
 * refuses any candidate that lacks one of them. No newer-term leader is needed (unlike a damaged
 * log): a node that never acknowledged anything in the group's current membership has no
 * promise of its own to forget, only its id's old ones, which all sit at or below the floor.
 *
 * A leader that removes an id and adds it back within its term must also not take a late answer
 * of the old incarnation for the new one's: it would move the new member's match to entries it
 * doesn't hold. Each progress the leader makes is tagged (its last index at the time, distinct
 * for the two incarnations as the removal lies between); appends, snapshot chunks and heartbeats
 * carry the tag in `context`, their answers (a lost-entries rejection too) echo it, and an answer
 * with another tag is ignored, also as a sign of life (`incarnation.ts`). An answer without one
 * (a node of a version that does not echo it) is believed, as before.
 *
 * ## Checks on the hot path
 *
 * Invariants that run per entry, per proposal or per message are written
 * `if (!(condition)) assert.fail(message)`, not `assert.ok(condition, message)`: in Deno 2.9
 * `node:assert`'s `ok` costs about 150 ns and allocates on every call, and a template message is
 * built even when the check passes. In the latency shape these checks were 7% of the broker's
 * allocated bytes. A passing check now costs a compare.
 *
 * @module
 */

export {};
