complete -c postqueue -s c -d 'Use the Postfix configuration in this directory' -r -f -a "(__fish_complete_directories)"
complete -c postqueue -s i -d 'Ask for delivery of the message with this queue ID now' -r -f
complete -c postqueue -s s -d 'Ask for delivery of the mail queued for this site now (fast flush)' -r -f -a "(__fish_print_hostnames)"
complete -c postqueue -l sender -d 'Select messages whose envelope sender matches the regular expression' -r -f
complete -c postqueue -l recipient -d 'Select messages with a recipient still to be delivered that matches the regular expression' -r -f
complete -c postqueue -l domain -d 'Select messages with a recipient still to be delivered in this domain or a subdomain' -r -f -a "(__fish_print_hostnames)"
complete -c postqueue -l older-than -d 'Select messages that arrived at least this long ago (90m, 3d, 1h30m)' -r -f
complete -c postqueue -l newer-than -d 'Select messages that arrived at most this long ago (90m, 3d, 1h30m)' -r -f
complete -c postqueue -l min-size -d 'Select messages of at least this many bytes (k, M, G suffixes)' -r -f
complete -c postqueue -l max-size -d 'Select messages of at most this many bytes (k, M, G suffixes)' -r -f
complete -c postqueue -l reason -d 'Select messages with a recipient whose deferral reason matches the regular expression' -r -f
complete -c postqueue -l header -d 'Select messages with a header line that matches the regular expression' -r -f
complete -c postqueue -l format -d 'How --summary prints its report: text or json' -r -f -a "text\t'a table (the default)'
json\t'one JSON document'"
complete -c postqueue -s f -d 'Flush: ask the queue manager to try to deliver all queued mail now'
complete -c postqueue -s j -d 'List the queue as JSON, one object per message'
complete -c postqueue -s p -d 'List the queue in the classic sendmail format (what mailq prints)'
complete -c postqueue -s v -d 'Verbose: accepted, without Postfix\'s debugging output'
complete -c postqueue -l summary -d 'Summarise the queue per recipient domain instead of listing each message'
complete -c postqueue -l all-instances -d 'List the default Postfix instance and every multi_instance_directories entry'
