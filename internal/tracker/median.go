package tracker

// selectK partially sorts v so that v[k] is the k-th smallest (Hoare's
// quickselect, median-of-three pivot); O(len(v)) on average, no allocation.
func selectK(v []float32, k int) float32 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Order lo, mid, hi so the pivot is a median of three.
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// median of v (mean of the two middle values for even lengths); reorders v.
func median(v []float32) float32 {
	n := len(v)
	if n == 0 {
		return 0
	}
	m := selectK(v, n/2)
	if n%2 == 1 {
		return m
	}
	// After selection every element below n/2 is <= m; the lower middle is their maximum.
	lo := v[0]
	for _, x := range v[1 : n/2] {
		lo = max(lo, x)
	}
	return (lo + m) / 2
}
