//! What a placement algorithm sees: buffer sizes, lifetimes and ties.
//!
//! A tie allows (never forces) an op's output to overlap one of its dying
//! inputs, for in-place execution: a raster-order kernel only needs the
//! output to sit at least `lag` bytes below the input; a ring kernel needs
//! the output exactly on the input. Buffers that are not tied must not
//! overlap while both are live.

/// A buffer to place: live from step `first` to step `last`, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    pub size: usize,
    pub first: usize,
    pub last: usize,
}

impl Buffer {
    pub fn overlaps_in_time(&self, o: &Buffer) -> bool {
        self.first <= o.last && o.first <= self.last
    }
}

/// `buffer` may overlap `anchor` when offset(buffer) + lag <= offset(anchor),
/// or, if `exact`, when offset(buffer) == offset(anchor) (lag is then 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tie {
    pub anchor: usize,
    pub buffer: usize,
    pub lag: usize,
    pub exact: bool,
}

impl Tie {
    /// Whether a placement of the two buffers uses the tie's permission.
    pub fn allows(&self, anchor_offset: usize, buffer_offset: usize) -> bool {
        if self.exact {
            buffer_offset == anchor_offset
        } else {
            buffer_offset + self.lag <= anchor_offset
        }
    }

    /// Bytes the pair needs at the op when the tie is used (at best).
    pub fn pair_bytes(&self, anchor: usize, buffer: usize) -> usize {
        (self.lag + anchor).max(buffer).min(anchor + buffer)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Problem {
    pub buffers: Vec<Buffer>,
    pub ties: Vec<Tie>,
}

impl Problem {
    /// Number of schedule steps.
    pub fn steps(&self) -> usize {
        self.buffers.iter().map(|b| b.last + 1).max().unwrap_or(0)
    }

    /// The tie between two buffers, if any.
    pub fn tie(&self, a: usize, b: usize) -> Option<&Tie> {
        self.ties.iter().find(|t| (t.anchor, t.buffer) == (a, b) || (t.anchor, t.buffer) == (b, a))
    }

    /// Bytes live at each step, a tied pair counted by the least bytes it
    /// can cover together (in-place reuse).
    pub fn live_bytes(&self) -> Vec<usize> {
        let b = &self.buffers;
        let live = |i: usize, s: usize| b[i].first <= s && s <= b[i].last;
        (0..self.steps())
            .map(|s| {
                let sum: usize = (0..b.len()).filter(|&i| live(i, s)).map(|i| b[i].size).sum();
                // An output has one producing op, so at most one tie of it
                // saves bytes at a step; count the best one per output.
                let mut saved = vec![0usize; b.len()];
                for t in self.ties.iter().filter(|t| live(t.anchor, s) && live(t.buffer, s)) {
                    let (x, y) = (b[t.anchor].size, b[t.buffer].size);
                    saved[t.buffer] = saved[t.buffer].max(x + y - t.pair_bytes(x, y));
                }
                sum - saved.iter().sum::<usize>()
            })
            .collect()
    }

    /// The largest number of bytes live at one step: no placement does better.
    pub fn lower_bound(&self) -> usize {
        self.live_bytes().into_iter().max().unwrap_or(0)
    }

    /// Arena size of a placement.
    pub fn extent(&self, offsets: &[usize]) -> usize {
        self.buffers.iter().zip(offsets).map(|(b, o)| o + b.size).max().unwrap_or(0)
    }

    /// Checks a placement: buffers live at the same step are disjoint unless
    /// a tie between them allows their overlap.
    pub fn check(&self, offsets: &[usize]) -> Result<(), String> {
        let b = &self.buffers;
        for i in 0..b.len() {
            for j in i + 1..b.len() {
                if !b[i].overlaps_in_time(&b[j]) {
                    continue;
                }
                if offsets[i] + b[i].size <= offsets[j] || offsets[j] + b[j].size <= offsets[i] {
                    continue;
                }
                let allowed = self.tie(i, j).is_some_and(|t| t.allows(offsets[t.anchor], offsets[t.buffer]));
                if !allowed {
                    return Err(format!(
                        "buffers {i} [{}, +{}) and {j} [{}, +{}) overlap at steps {}..={}",
                        offsets[i], b[i].size, offsets[j], b[j].size,
                        b[i].first.max(b[j].first), b[i].last.min(b[j].last)
                    ));
                }
            }
        }
        Ok(())
    }
}
