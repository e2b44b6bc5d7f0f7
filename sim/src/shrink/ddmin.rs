//! Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input",
//! 2002): the smallest sublist it can find, keeping the order, on which a test still fails.

/// A 1-minimal sublist of `items` on which `fails` holds, if `fails` holds on `items`: removing
/// any one item more makes it pass. The order of the items kept is their order in `items`.
/// `fails` is asked at most O(n^2) times, usually O(n log n); it returns `None` when the
/// shrinker must stop (its budget ran out), and then the smallest list found so far comes back.
pub fn ddmin<T: Clone>(items: Vec<T>, fails: &mut dyn FnMut(&[T]) -> Option<bool>) -> Vec<T> {
    // The empty list first: a failure that needs none of them is the most common shrink.
    if !items.is_empty() && fails(&[]) == Some(true) {
        return Vec::new();
    }
    let mut items = items;
    let mut granularity = 2usize;
    while items.len() >= 2 {
        let chunk = items.len().div_ceil(granularity);
        let mut reduced = false;
        for start in (0..items.len()).step_by(chunk) {
            let end = (start + chunk).min(items.len());
            let complement: Vec<T> = items[..start].iter().chain(&items[end..]).cloned().collect();
            match fails(&complement) {
                None => return items,
                Some(true) => {
                    items = complement;
                    granularity = (granularity - 1).max(2);
                    reduced = true;
                    break;
                }
                Some(false) => {}
            }
        }
        if !reduced {
            if granularity >= items.len() {
                break;
            }
            granularity = (granularity * 2).min(items.len());
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shrink(items: Vec<u32>, needed: &[u32]) -> (Vec<u32>, u32) {
        let mut asked = 0;
        let kept = ddmin(items, &mut |list| {
            asked += 1;
            Some(needed.iter().all(|n| list.contains(n)))
        });
        (kept, asked)
    }

    #[test]
    fn it_keeps_exactly_what_the_failure_needs_in_order() {
        let (kept, _) = shrink((0..40).collect(), &[31, 3, 17]);
        assert_eq!(kept, vec![3, 17, 31]);
        let (kept, asked) = shrink((0..40).collect(), &[]);
        assert_eq!((kept, asked), (vec![], 1));
        let (kept, _) = shrink(vec![5], &[5]);
        assert_eq!(kept, vec![5]);
    }

    #[test]
    fn it_asks_far_fewer_than_every_subset() {
        let (kept, asked) = shrink((0..64).collect(), &[9]);
        assert_eq!(kept, vec![9]);
        assert!(asked < 40, "asked {asked} times");
    }

    #[test]
    fn a_budget_that_runs_out_returns_the_smallest_list_so_far() {
        let mut left = 3;
        let kept = ddmin((0..16).collect::<Vec<u32>>(), &mut |list| {
            if left == 0 {
                return None;
            }
            left -= 1;
            Some(list.contains(&2))
        });
        assert!(kept.contains(&2) && kept.len() < 16, "{kept:?}");
    }
}
