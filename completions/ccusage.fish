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
        -d --data-dir --db --config --for -n --interval --view
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

# Zone names are the files below zoneinfo whose every path component starts
# with a capital: that leaves out posix/, right/ and the tables.
function __ccusage_timezones
    test -d /usr/share/zoneinfo; or return
    env LC_ALL=C find /usr/share/zoneinfo -mindepth 1 -name '[!A-Z]*' -prune -o \
        '(' -type f -o -type l ')' -print | string replace /usr/share/zoneinfo/ ''
end

set -l reports daily weekly monthly session today
set -l windows blocks status
# Who takes an option: every command but config (and ccusage before its
# command), the reports alone, blocks and status alone.
set -l common "__ccusage_command_is '' $reports $windows"
# live takes the common options but -j and -v, and those of blocks and status.
set -l shared "__ccusage_command_is '' $reports $windows live"
set -l report "__ccusage_command_is '' $reports"
set -l window "__ccusage_command_is $windows live"

# Nothing takes file names but the options that ask for them.
complete -c ccusage -f

complete -c ccusage -n __ccusage_at -a daily -d 'usage per day (the default)'
complete -c ccusage -n __ccusage_at -a weekly -d 'usage per week'
complete -c ccusage -n __ccusage_at -a monthly -d 'usage per month'
complete -c ccusage -n __ccusage_at -a session -d 'usage per Claude Code session'
complete -c ccusage -n __ccusage_at -a today -d 'usage of today'
complete -c ccusage -n __ccusage_at -a blocks -d 'usage per 5-hour window, with burn rate and limits'
complete -c ccusage -n __ccusage_at -a status -d 'the current 5-hour window (exit 3 at the limit)'
complete -c ccusage -n __ccusage_at -a live -d 'a full-screen view of the window, the day and the calls as they land'
complete -c ccusage -n __ccusage_at -a config -d 'show or start the settings file'

complete -c ccusage -s h -l help -d 'show the help and exit'
complete -c ccusage -n "__ccusage_command_is ''" -s V -l version -d 'show the version and exit'

complete -c ccusage -n $shared -s z -l timezone -x -a '(__ccusage_timezones)' \
    -d 'IANA time zone deciding which day a call belongs to'
complete -c ccusage -n $shared -s m -l mode -x -d 'where costs come from' -a '
    auto\t"costUSD where a line has it, else the price"
    calculate\t"price every call"
    display\t"only the costUSD Claude Code wrote"'
complete -c ccusage -n $shared -l prices -r -F -d 'JSON file of extra or overriding prices'
complete -c ccusage -n $common -s j -l json -d 'print JSON'
complete -c ccusage -n $shared -l color -x -a 'auto always never' -d 'colour the output'
complete -c ccusage -n $shared -s d -l data-dir -x -a '(__fish_complete_directories)' \
    -d 'Claude config dir to read (repeatable)'
complete -c ccusage -n $shared -l db -r -F -d 'the store'
complete -c ccusage -n "__ccusage_command_is '' $reports $windows live config" -l config -r -F \
    -d 'settings file to read'
complete -c ccusage -n $common -l no-wait -d 'answer from what the store holds when another ccusage is busy with it'
complete -c ccusage -n $common -s v -l verbose -d 'say what was read and skipped, on stderr'

complete -c ccusage -n $report -s s -l since -x -d 'first day to include (YYYY-MM-DD)'
complete -c ccusage -n $report -s u -l until -x -d 'last day to include (YYYY-MM-DD)'
complete -c ccusage -n $report -s p -l project -x -d 'only this project'
complete -c ccusage -n $report -s b -l breakdown -d 'add a row per model'
complete -c ccusage -n $report -l csv -d 'print CSV'
complete -c ccusage -n "__ccusage_command_is '' daily weekly monthly today" -l by-project \
    -d 'group the rows by project'
complete -c ccusage -n "__ccusage_command_is '' weekly" -l start-of-week -x \
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
complete -c ccusage -n '__ccusage_command_is blocks' -s a -l active -d 'only the active window'
complete -c ccusage -n '__ccusage_command_is blocks' -s r -l recent -d 'only the windows of the last 3 days'
complete -c ccusage -n '__ccusage_command_is live' -s n -l interval -x -d 'seconds between looks for new calls'
complete -c ccusage -n '__ccusage_command_is live' -l once -d 'print one frame as text and exit'
complete -c ccusage -n '__ccusage_command_is live' -l view -x -a 'overview sessions models history help' \
    -d 'view to start on'

# config [show|path|init]
complete -c ccusage -n '__ccusage_at config' -a show \
    -d 'the settings and where each comes from (the default)'
complete -c ccusage -n '__ccusage_at config' -a path -d "print the settings file's path"
complete -c ccusage -n '__ccusage_at config' -a init -d 'write a commented starter file'
complete -c ccusage -n '__ccusage_command_is config' -l for -x -a "$reports $windows live config" \
    -d 'show the settings as this command sees them'
complete -c ccusage -n '__ccusage_command_is config' -s j -l json -d 'print JSON'
