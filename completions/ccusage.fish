# fish completion for ccusage.  Install as
# share/fish/vendor_completions.d/ccusage.fish, or copy it to
# ~/.config/fish/completions/.  It never runs ccusage, so completing stays
# instant however large the store is.
#
# A new command: add it to the list of commands, and give it a condition for
# its options.  A new option: add a line, and its name to
# __ccusage_value_options when it takes a value.

# Options followed by a value: the word after one is never a command.
function __ccusage_value_options
    printf '%s\n' -s --since -u --until -z --timezone -p --project -m --mode --prices \
        --plan -t --token-limit -l --session-length --start-of-week -o --order --color \
        -d --data-dir --log --source --db --config --for --notify --date -f --format --aggregate --output --host --port --before \
        --shell --thresholds --interval --view
end

# The words on the line that are not options or options' values: the
# command, then its own words (config's action).
function __ccusage_words
    set -l value_options (__ccusage_value_options)
    set -l skip 0
    for word in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
        else if contains -- $word $value_options
            set skip 1
        else if not string match -q -- '-*' $word
            echo $word
        end
    end
end

# Is the command one of $argv ('' before one is given)?
function __ccusage_command_is
    set -l words (__ccusage_words) ''
    contains -- $words[1] $argv
end

# Are the words so far exactly $argv (none, when called without arguments)?
function __ccusage_at
    set -l words (__ccusage_words)
    test "$words" = "$argv"
end

# --log's value, KIND:PATH: a kind and its colon, then after the colon a
# file, a directory or a glob pattern.
function __ccusage_log_values
    set -l token (commandline -ct)
    set -l kind (string match -r -- '^(?:claude-code|proxy|calls):' $token)
    if test -n "$kind"
        __fish_complete_path (string sub -s (math (string length -- $kind) + 1) -- $token) |
            string replace -r -- '^' $kind
    else
        printf '%s\t%s\n' claude-code: 'a Claude config dir' proxy: "a logging proxy's log of API requests" \
            calls: "a program's own log of its calls"
    end
end

# Zone names are the files below zoneinfo whose every path component starts
# with a capital: that leaves out posix/, right/ and the tables.
function __ccusage_timezones
    test -d /usr/share/zoneinfo; or return
    env LC_ALL=C find /usr/share/zoneinfo -mindepth 1 -name '[!A-Z]*' -prune -o \
        '(' -type f -o -type l ')' -print | string replace /usr/share/zoneinfo/ ''
end

set -l reports daily weekly monthly session today
set -l windows blocks status
set -l budgets check report
set -l segments prompt statusline
set -l data export serve prune
# Who takes an option: every command but config (and ccusage before its
# command), those but prompt and statusline, the reports alone, blocks,
# status, check, report, prompt and statusline alone, and prompt and
# statusline alone.
set -l common "__ccusage_command_is '' $reports models $windows $budgets $segments"
set -l tabular "__ccusage_command_is '' $reports models $windows $budgets"
set -l report "__ccusage_command_is '' $reports"
set -l window "__ccusage_command_is $windows $budgets $segments live"
set -l segment "__ccusage_command_is $segments"

# Nothing takes file names but the options that ask for them.
complete -c ccusage -f

complete -c ccusage -n __ccusage_at -a daily -d 'usage per day (the default)'
complete -c ccusage -n __ccusage_at -a weekly -d 'usage per week'
complete -c ccusage -n __ccusage_at -a monthly -d 'usage per month'
complete -c ccusage -n __ccusage_at -a session -d 'usage per Claude Code session'
complete -c ccusage -n __ccusage_at -a today -d 'usage of today'
complete -c ccusage -n __ccusage_at -a models -d 'per model tier and agent: requests, failures, latency, calls and cost'
complete -c ccusage -n __ccusage_at -a blocks -d 'usage per 5-hour window, with burn rate and limits'
complete -c ccusage -n __ccusage_at -a status -d 'the current 5-hour window (exit 3 at the limit)'
complete -c ccusage -n __ccusage_at -a check -d 'every budget now: ok, warning or exceeded (exit 0, 4 or 3)'
complete -c ccusage -n __ccusage_at -a report -d 'a summary of yesterday, a week or a month, for mail'
complete -c ccusage -n __ccusage_at -a prompt -d "one line for a shell prompt or tmux"
complete -c ccusage -n __ccusage_at -a statusline -d "Claude Code's status line, from its JSON on stdin"
complete -c ccusage -n __ccusage_at -a export -d 'every call (or hour or day) as CSV, JSON lines, JSON or Prometheus text'
complete -c ccusage -n __ccusage_at -a serve -d 'answer HTTP: Prometheus metrics, a JSON summary and history'
complete -c ccusage -n __ccusage_at -a prune -d 'delete the calls before a day from the store'
complete -c ccusage -n __ccusage_at -a live -d 'a full-screen view of the window, the day and the calls as they land'
complete -c ccusage -n __ccusage_at -a config -d 'show or start the settings file'

complete -c ccusage -s h -l help -d 'show the help and exit'
complete -c ccusage -n "__ccusage_command_is ''" -s V -l version -d 'show the version and exit'

complete -c ccusage -n "$common $data live" -s z -l timezone -x -a '(__ccusage_timezones)' \
    -d 'IANA time zone deciding which day a call belongs to'
complete -c ccusage -n "$common export serve live" -s m -l mode -x -d 'where costs come from' -a '
    auto\t"costUSD where a line has it, else the price"
    calculate\t"price every call"
    display\t"only the costUSD Claude Code wrote"'
complete -c ccusage -n "$common export serve live" -l prices -r -F -d 'JSON file of extra or overriding prices'
complete -c ccusage -n $tabular -s j -l json -d 'print JSON'
complete -c ccusage -n "$common live" -l color -x -a 'auto always never' -d 'colour the output'
complete -c ccusage -n "$common $data live" -s d -l data-dir -x -a '(__fish_complete_directories)' \
    -d 'Claude config dir to read (repeatable)'
complete -c ccusage -n "$common $data live" -l log -x -a '(__ccusage_log_values)' \
    -d 'read the logs at PATH as KIND: claude-code, proxy or calls (repeatable)'
complete -c ccusage -n "$common $data live" -l source -x -d 'only the calls of this source (repeatable)' -a '
    claude-code\t"the Claude Code config dirs"
    proxy\t"the sources of kind proxy, or the one so named"
    calls\t"the sources of kind calls, or the one so named"'
complete -c ccusage -n "$common $data live" -l db -r -F -d 'the store'
complete -c ccusage -n "__ccusage_command_is '' $reports models $windows $budgets $segments $data live config" -l config -r -F \
    -d 'settings file to read'
complete -c ccusage -n "$tabular $data" -l no-wait -d 'answer from what the store holds when another ccusage is busy with it'
complete -c ccusage -n "$tabular $data" -s v -l verbose -d 'say what was read and skipped, on stderr'

# today covers today alone: no range.
set -l ranged "__ccusage_command_is '' daily weekly monthly session models export blocks"
complete -c ccusage -n $ranged -s s -l since -x -d 'first day to include (YYYY-MM-DD)'
complete -c ccusage -n $ranged -s u -l until -x -d 'last day to include (YYYY-MM-DD)'
complete -c ccusage -n "$report export blocks" -s p -l project -x -d 'only this project'
complete -c ccusage -n $report -s b -l breakdown -d 'add a row per model'
complete -c ccusage -n "$report blocks" -l csv -d 'print CSV'
complete -c ccusage -n "__ccusage_command_is '' daily weekly monthly today" -l by-project \
    -d 'group the rows by project'
complete -c ccusage -n "__ccusage_command_is '' weekly $budgets" -l start-of-week -x \
    -a 'monday tuesday wednesday thursday friday saturday sunday' -d 'first day of a week'
complete -c ccusage -n "__ccusage_command_is '' $reports blocks" -s o -l order -x -a 'asc desc' -d 'row order'

complete -c ccusage -n $window -l plan -x -d 'plan whose limit to measure against' -a '
    auto\t"learnt from your history"
    pro\t"estimate for Pro"
    max5\t"estimate for Max 5x"
    max20\t"estimate for Max 20x"
    custom\t"the --token-limit given"'
complete -c ccusage -n $window -s t -l token-limit -x -a max \
    -d 'tokens a window allows, or max: the largest past window'
complete -c ccusage -n $window -s l -l session-length -x -d 'hours in a window'
complete -c ccusage -n $segment -s f -l format -x -d 'the line: text with {field}s, [parts] left out when empty'
complete -c ccusage -n $segment -l thresholds -x -d 'used percentages at which the colour turns yellow and red'
complete -c ccusage -n '__ccusage_command_is prompt' -l shell -x -a 'plain bash zsh fish tmux' \
    -d "mark colours up for this shell's prompt"
complete -c ccusage -n '__ccusage_command_is blocks' -s a -l active -d 'only the active window'
complete -c ccusage -n '__ccusage_command_is blocks' -s r -l recent -d 'only the windows of the last 3 days'
complete -c ccusage -n '__ccusage_command_is live' -l interval -x -d 'seconds between looks for new calls'
complete -c ccusage -n '__ccusage_command_is live' -l once -d 'print one frame as text and exit'
complete -c ccusage -n '__ccusage_command_is live' -l view -x -a 'overview sessions models history help' \
    -d 'view to start on'

complete -c ccusage -n '__ccusage_command_is check' -l notify -x -d 'run this command once per budget state change'
complete -c ccusage -n '__ccusage_command_is check' -l desktop -d 'show a desktop notification of each change'
complete -c ccusage -n '__ccusage_command_is report' -l date -x -d 'the day to report, or a day of the week or month'
complete -c ccusage -n '__ccusage_command_is report' -l week -d 'report a week'
complete -c ccusage -n '__ccusage_command_is report' -l month -d 'report a month'
complete -c ccusage -n '__ccusage_command_is report' -l markdown -d 'print Markdown'
complete -c ccusage -n '__ccusage_command_is export' -s f -l format -x -d 'what to write' -a '
    csv\t"RFC 4180, formula cells neutralised"
    jsonl\t"a JSON object a line"
    json\t"one JSON document, with totals"
    prometheus\t"the Prometheus text format"'
complete -c ccusage -n '__ccusage_command_is export' -l aggregate -x -a 'hour day' \
    -d 'a row per project, model and hour or day'
complete -c ccusage -n '__ccusage_command_is export' -l output -r -F -d 'write to this file, replaced whole'
complete -c ccusage -n '__ccusage_command_is serve' -l host -x -d 'address to listen on (default: 127.0.0.1)'
complete -c ccusage -n '__ccusage_command_is serve' -l port -x -d 'port to listen on (default: 9247)'
complete -c ccusage -n '__ccusage_command_is serve' -l allow-remote \
    -d 'listen on an address other machines reach'
complete -c ccusage -n '__ccusage_command_is prune' -l before -x -d 'delete the calls before this day (YYYY-MM-DD)'
complete -c ccusage -n '__ccusage_command_is prune' -s n -l dry-run -d 'show what would be deleted, delete nothing'

# config [show|path|init]
complete -c ccusage -n '__ccusage_at config' -a show \
    -d 'the settings and where each comes from (the default)'
complete -c ccusage -n '__ccusage_at config' -a path -d "print the settings file's path"
complete -c ccusage -n '__ccusage_at config' -a init -d 'write a commented starter file'
complete -c ccusage -n '__ccusage_command_is config' -l for -x -a "$reports models $windows $budgets $segments $data live config" \
    -d 'show the settings as this command sees them'
complete -c ccusage -n '__ccusage_command_is config' -s j -l json -d 'print JSON'
