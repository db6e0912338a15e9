# Reads Swift Testing's event stream (--event-stream-output-path FILE --event-stream-version 0:
# one JSON record a line) and prints what scripts/test-host.sh and scripts/test-vm.sh count:
#
#   counts PASSED FAILED SKIPPED
#   failed NAME          a test that ended with a failure
#   unfinished NAME      a test that started and never ended (hang, crash, timeout): counted failed
#   notrun N             tests the run planned and never started nor skipped (it stopped early);
#                        not in the counts
#   run-ended yes|no     whether the runner got to the end of its run
#
# Run as: jq -nrR -f scripts/test-events.jq FILE...  (-R: lines are parsed one by one, so a
# record cut short by a timeout or a crash is dropped instead of stopping the count).
#
# Tests are the records of kind "test" whose payload kind is "function": suites are not
# counted, and a parameterized test counts once, as Swift Testing's own summary does.
# NAME is the test's ID without its module and source location: Suite/test().
def name: sub("^[^./]*\\."; "") | sub("/[^/]*\\.swift:[0-9]+:[0-9]+$"; "");
reduce (inputs | fromjson? | select(type == "object")) as $r (
    {functions: {}, started: {}, ended: {}, skipped: {}, runEnded: false};
    if $r.kind == "test" then
        if $r.payload.kind == "function" then .functions[$r.payload.id] = true else . end
    elif $r.kind == "event" then
        ($r.payload.kind) as $k | ($r.payload.testID // "") as $id |
        if $k == "testStarted" then .started[$id] = true
        elif $k == "testEnded" then
            .ended[$id] = (if any($r.payload.messages[]?; .symbol == "fail") then "fail" else "pass" end)
        elif $k == "testSkipped" then .skipped[$id] = true
        elif $k == "runEnded" then .runEnded = true
        else . end
    else . end
)
| .functions as $f
| ([.ended | to_entries[] | select($f[.key]) ]) as $ended
| ([.started | keys[] | select($f[.] and (. as $id | $ended | map(.key) | index($id) | not))]) as $unfinished
| ([$ended[] | select(.value == "fail") | .key]) as $failed
| ([.skipped | keys[] | select($f[.])] | length) as $skipped
| . as $s
| ([$f | keys[] | select(($s.started[.] or $s.ended[.] or $s.skipped[.]) | not)] | length) as $notrun
| "counts \($ended | map(select(.value == "pass")) | length) \(($failed | length) + ($unfinished | length)) \($skipped)",
  ($failed[] | "failed \(name)"),
  ($unfinished[] | "unfinished \(name)"),
  "notrun \($notrun)",
  "run-ended \(if .runEnded then "yes" else "no" end)"
