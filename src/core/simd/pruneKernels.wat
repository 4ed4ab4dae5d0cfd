;; SIMD kernels of magnitude pruning (magnitudeCut.ts, zeroPruned.ts), assembled at build time by esbuild.js
;; (wabt) and embedded in the bundle. A value's magnitude key is its float32 bits with the sign cleared. The
;; sums of squares run in four lanes (value i in lane i mod 4, two f64x2 here, four doubles in the JS loops),
;; so both paths give the same figures to the last bit.
(module
  (memory (export "memory") 10)
  ;; keepWindow: keys below the window in the last call
  (global $below (export "below") (mut i32) (i32.const 0))
  ;; zeroBelow: running counts (reset by JS per tensor)
  (global $zeros (export "zeros") (mut i32) (i32.const 0))
  (global $nnz (export "nnz") (mut i32) (i32.const 0))
  (global $changed (export "changed") (mut i32) (i32.const 0))

  ;; Over $n int32 words at $p ($n a multiple of 4): counts the keys below $first into `below`, and writes
  ;; the keys k with (k - $first) <= $last (unsigned: the window) at $out in reading order; returns how many.
  (func (export "keepWindow") (param $p i32) (param $n i32) (param $first i32) (param $last i32)
    (param $out i32) (result i32)
    (local $end i32) (local $o i32) (local $key v128) (local $d v128) (local $in v128) (local $bc v128)
    (local $vfirst v128) (local $vlast v128) (local $vabs v128)
    (local.set $vfirst (i32x4.splat (local.get $first)))
    (local.set $vlast (i32x4.splat (local.get $last)))
    (local.set $vabs (i32x4.splat (i32.const 0x7fffffff)))
    (local.set $o (local.get $out))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $key (v128.and (v128.load (local.get $p)) (local.get $vabs)))
        ;; keys are < 2^31, so the difference is negative exactly when the key is below the window
        (local.set $d (i32x4.sub (local.get $key) (local.get $vfirst)))
        (local.set $bc (i32x4.add (local.get $bc) (i32x4.shr_u (local.get $d) (i32.const 31))))
        (local.set $in (i32x4.le_u (local.get $d) (local.get $vlast)))
        ;; rare (the window is a sliver of the keys): keep the ones inside, lane by lane
        (if (v128.any_true (local.get $in))
          (then
            (if (i32x4.extract_lane 0 (local.get $in))
              (then
                (i32.store (local.get $o) (i32x4.extract_lane 0 (local.get $key)))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))))
            (if (i32x4.extract_lane 1 (local.get $in))
              (then
                (i32.store (local.get $o) (i32x4.extract_lane 1 (local.get $key)))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))))
            (if (i32x4.extract_lane 2 (local.get $in))
              (then
                (i32.store (local.get $o) (i32x4.extract_lane 2 (local.get $key)))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))))
            (if (i32x4.extract_lane 3 (local.get $in))
              (then
                (i32.store (local.get $o) (i32x4.extract_lane 3 (local.get $key)))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $l)))
    (global.set $below (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $bc)) (i32x4.extract_lane 1 (local.get $bc)))
      (i32.add (i32x4.extract_lane 2 (local.get $bc)) (i32x4.extract_lane 3 (local.get $bc)))))
    (i32.shr_u (i32.sub (local.get $o) (local.get $out)) (i32.const 2)))

  ;; Zeroes in place, over $n float32 values at $p ($n a multiple of 4), every value whose key is below $t
  ;; and, in reading order, the first $left whose key equals it; returns the ties left. Adds to `zeros`
  ;; (values 0 or -0 before), `nnz` (kept non-zero values) and `changed` (1 once a value changes); the
  ;; lane sums at $acc (energy e0 e1 e2 e3, then pruned energy r0 r1 r2 r3, of the finite values) are read
  ;; and written back. With $keep non-zero, writes 1 (kept) or 0 (pruned) per value there.
  (func (export "zeroBelow") (param $p i32) (param $n i32) (param $t i32) (param $left i32) (param $keep i32)
    (param $acc i32) (result i32)
    (local $end i32) (local $b v128) (local $key v128) (local $prune v128) (local $tie v128) (local $fin v128)
    (local $pf v128) (local $sql v128) (local $sqh v128) (local $e01 v128) (local $e23 v128) (local $r01 v128)
    (local $r23 v128) (local $zc v128) (local $nz v128) (local $ch v128) (local $vt v128) (local $vabs v128)
    (local $vinf v128) (local $zero v128)
    (local.set $vt (i32x4.splat (local.get $t)))
    (local.set $vabs (i32x4.splat (i32.const 0x7fffffff)))
    (local.set $vinf (i32x4.splat (i32.const 0x7f800000)))
    (local.set $e01 (v128.load (local.get $acc)))
    (local.set $e23 (v128.load offset=16 (local.get $acc)))
    (local.set $r01 (v128.load offset=32 (local.get $acc)))
    (local.set $r23 (v128.load offset=48 (local.get $acc)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $b (v128.load (local.get $p)))
        (local.set $key (v128.and (local.get $b) (local.get $vabs)))
        (local.set $prune (i32x4.lt_s (local.get $key) (local.get $vt)))
        (local.set $tie (i32x4.eq (local.get $key) (local.get $vt)))
        ;; rare: values at the threshold, pruned while ties are left, lane by lane in reading order
        (if (i32.and (v128.any_true (local.get $tie)) (i32.gt_s (local.get $left) (i32.const 0)))
          (then
            (if (i32.and (i32x4.extract_lane 0 (local.get $tie)) (i32.gt_s (local.get $left) (i32.const 0)))
              (then
                (local.set $prune (i32x4.replace_lane 0 (local.get $prune) (i32.const -1)))
                (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
            (if (i32.and (i32x4.extract_lane 1 (local.get $tie)) (i32.gt_s (local.get $left) (i32.const 0)))
              (then
                (local.set $prune (i32x4.replace_lane 1 (local.get $prune) (i32.const -1)))
                (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
            (if (i32.and (i32x4.extract_lane 2 (local.get $tie)) (i32.gt_s (local.get $left) (i32.const 0)))
              (then
                (local.set $prune (i32x4.replace_lane 2 (local.get $prune) (i32.const -1)))
                (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
            (if (i32.and (i32x4.extract_lane 3 (local.get $tie)) (i32.gt_s (local.get $left) (i32.const 0)))
              (then
                (local.set $prune (i32x4.replace_lane 3 (local.get $prune) (i32.const -1)))
                (local.set $left (i32.sub (local.get $left) (i32.const 1)))))))
        (local.set $fin (i32x4.lt_s (local.get $key) (local.get $vinf)))
        (local.set $pf (v128.and (local.get $prune) (local.get $fin)))
        ;; x² is exact as a double (24-bit mantissas); NaN and infinity are masked out
        (local.set $sql (f64x2.promote_low_f32x4 (local.get $b)))
        (local.set $sql (f64x2.mul (local.get $sql) (local.get $sql)))
        (local.set $sqh (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $b) (local.get $b))))
        (local.set $sqh (f64x2.mul (local.get $sqh) (local.get $sqh)))
        (local.set $e01 (f64x2.add (local.get $e01)
          (v128.and (local.get $sql) (i64x2.extend_low_i32x4_s (local.get $fin)))))
        (local.set $e23 (f64x2.add (local.get $e23)
          (v128.and (local.get $sqh) (i64x2.extend_high_i32x4_s (local.get $fin)))))
        (local.set $r01 (f64x2.add (local.get $r01)
          (v128.and (local.get $sql) (i64x2.extend_low_i32x4_s (local.get $pf)))))
        (local.set $r23 (f64x2.add (local.get $r23)
          (v128.and (local.get $sqh) (i64x2.extend_high_i32x4_s (local.get $pf)))))
        ;; the comparisons give -1 per lane: subtracting counts
        (local.set $zc (i32x4.sub (local.get $zc) (i32x4.eq (local.get $key) (local.get $zero))))
        (local.set $nz (i32x4.sub (local.get $nz)
          (v128.andnot (i32x4.ne (local.get $key) (local.get $zero)) (local.get $prune))))
        ;; a -0 pruned to +0 is a change too
        (local.set $ch (v128.or (local.get $ch)
          (v128.and (local.get $prune) (i32x4.ne (local.get $b) (local.get $zero)))))
        (v128.store (local.get $p) (v128.andnot (local.get $b) (local.get $prune)))
        (if (local.get $keep)
          (then
            (v128.store32_lane 0 (local.get $keep) (v128.and (i8x16.splat (i32.const 1))
              (i8x16.narrow_i16x8_s
                (i16x8.narrow_i32x4_s (v128.not (local.get $prune)) (local.get $zero))
                (local.get $zero))))
            (local.set $keep (i32.add (local.get $keep) (i32.const 4)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $l)))
    (v128.store (local.get $acc) (local.get $e01))
    (v128.store offset=16 (local.get $acc) (local.get $e23))
    (v128.store offset=32 (local.get $acc) (local.get $r01))
    (v128.store offset=48 (local.get $acc) (local.get $r23))
    (global.set $zeros (i32.add (global.get $zeros) (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $zc)) (i32x4.extract_lane 1 (local.get $zc)))
      (i32.add (i32x4.extract_lane 2 (local.get $zc)) (i32x4.extract_lane 3 (local.get $zc))))))
    (global.set $nnz (i32.add (global.get $nnz) (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $nz)) (i32x4.extract_lane 1 (local.get $nz)))
      (i32.add (i32x4.extract_lane 2 (local.get $nz)) (i32x4.extract_lane 3 (local.get $nz))))))
    (global.set $changed (i32.or (global.get $changed) (v128.any_true (local.get $ch))))
    (local.get $left))
)
