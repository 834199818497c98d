-- Builds the Ardour session of tests/hosts/test_ardour.py (run by ardour7-lua, headless).
--
--   ardour7-lua create_session.lua DIR NAME FRAMES PLUGIN [PARAM=VALUE ...]
--
-- One stereo audio track "Mix" with strict I/O (as Ardour's GUI makes new tracks), a stereo
-- region of FRAMES samples at 0 (made by bouncing the empty track: Ardour 7's Lua API cannot
-- import a file, so it writes the sources and region itself and the test then fills the two
-- source files with the clip), region fades off, and the VST3 plugin named PLUGIN first on the
-- track ("" for none) with the given parameters, set by name. Prints the two source files,
-- "latency N" (the plugin's reported latency) and "outputs N" (the track's audio outputs).

local dir, name, frames, plugin_name = arg[1], arg[2], tonumber(arg[3]), arg[4]
assert(dir and name and frames and plugin_name, "usage: create_session.lua DIR NAME FRAMES PLUGIN [PARAM=VALUE ...]")

AudioEngine:set_backend("None (Dummy)", "", "")
assert(create_session(dir, name, 44100), "Ardour could not create a session in " .. dir)

local track = Session:new_audio_track(2, 2, nil, 1, "Mix", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true):front()
assert(track, "no track")
track:set_strict_io(true)

local region = track:bounce_range(0, frames, ARDOUR.InterThreadInfo(), track:main_outs(), false, "mixture", false)
assert(region and not region:isnil(), "bounce_range made no region")
assert(region:length():samples() == frames, "region length " .. region:length():samples())
local audio = region:to_audioregion()
audio:set_fade_in_active(false)
audio:set_fade_out_active(false)
track:playlist():add_region(region, Temporal.timepos_t(0), 1, false, 0, 0, false)
for c = 0, 1 do
	print("source " .. c .. " " .. region:source(c):to_filesource():path())
end

if plugin_name ~= "" then
	local proc = ARDOUR.LuaAPI.new_plugin(Session, plugin_name, ARDOUR.PluginType.VST3, "")
	-- Ardour's headless tools read only the plugin cache: ardour-vst3-scanner must have indexed it.
	assert(not proc:isnil(), "Ardour has no VST3 plugin named '" .. plugin_name .. "' in its plugin cache")
	assert(track:add_processor_by_index(proc, 0, nil, true) == 0, "could not add the plugin to the track")
	local plugin = proc:to_insert():plugin(0)
	for i = 5, #arg do
		local pname, value = arg[i]:match("^(.-)=(.*)$")
		local control, set = 0, false
		for j = 0, plugin:parameter_count() - 1 do
			if plugin:parameter_is_control(j) and plugin:parameter_is_input(j) then
				if plugin:parameter_label(j) == pname then
					assert(ARDOUR.LuaAPI.set_processor_param(proc, control, tonumber(value)), "could not set " .. pname)
					set = true
				end
				control = control + 1
			end
		end
		assert(set, "the plugin has no parameter named '" .. pname .. "'")
	end
	-- Parameter changes reach the plugin in Ardour's next process calls; the session saves the
	-- plugin's own state, so let a few run first (as they would while a user works).
	assert(ARDOUR.LuaAPI.wait_for_process_callback(8, 5000), "Ardour's engine does not run")
	print("latency " .. proc:to_insert():signal_latency())
	print("outputs " .. track:n_outputs():n_audio())
end

Session:save_state("", false, false, false, false, false)
-- The test reads this line: Ardour 7.3 sometimes dies of heap corruption while it tears down
-- (glibc aborts in close_session or at exit, about one run in six, with or without a plugin),
-- after everything above is on disk.
print("done")
close_session()
